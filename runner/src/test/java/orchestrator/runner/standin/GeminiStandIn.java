package orchestrator.runner.standin;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;

/**
 * The Gemini API (generativelanguage, v1beta) as Gemini CLI 0.61.0 uses it, observed by running the
 * real CLI against a logging server. Point the CLI here with {@code GOOGLE_GEMINI_BASE_URL=}{@link
 * #baseUrl()} and {@code security.auth.selectedType: "gemini-api-key"} in its settings.json (the base
 * URL alone selects the "gateway" auth type, which 0.61.0's headless auth check refuses with exit 41,
 * "Invalid auth method selected."). The key travels in {@code x-goog-api-key}.
 *
 * <p>Wire contract relied on:
 * <ul>
 *   <li>{@code POST /v1beta/models/{model}:streamGenerateContent?alt=sse} is a model turn (the prompt,
 *       then one per round of tool results): server-sent events, each {@code data: <GenerateContentResponse>}
 *       with {@code candidates[0].content.parts[]} of {@code {text}} or {@code {functionCall: {name, args}}},
 *       {@code finishReason} on the last chunk and {@code usageMetadata {promptTokenCount,
 *       candidatesTokenCount, totalTokenCount}}. The CLI's result stats sum usageMetadata over every call.</li>
 *   <li>{@code POST …:generateContent} (not streamed) is the CLI's own bookkeeping: the "auto" model router
 *       asks a flash-lite model for {@code {complexity_reasoning, complexity_score}} before each prompt, and
 *       loop or next-speaker checks may ask too. Answered with such JSON and no usageMetadata, so token
 *       counts stay exactly what the scripted model turns sent.</li>
 *   <li>{@code :countTokens} gets {@code {totalTokens}}; anything else {@code {}}.</li>
 *   <li>Errors are Google's {@code {"error": {code, message, status, details[]}}}. The CLI retries 429 and
 *       5xx itself with backoff (initial 5 s, doubling, 30 s max) and a {@code RetryInfo} detail's
 *       {@code retryDelay} as the floor; it ignores the {@code retry-after} header (sent anyway, as Google
 *       does). 401/403 are not retried.</li>
 * </ul>
 */
public final class GeminiStandIn extends ProviderStandIn {
    @Override
    protected boolean isModelCall(Request r) {
        return r.method().equals("POST") && r.path().endsWith(":streamGenerateContent");
    }

    @Override
    protected Reply defaultReply(Request r) {
        return text("Done.", 10, 2);
    }

    @Override
    protected void other(Exchange ex) throws IOException {
        String path = ex.request().path();
        if (path.endsWith(":generateContent")) {
            String answer = Json.write(Map.of("complexity_reasoning", "a scripted stand-in", "complexity_score", 1,
                    "next_speaker", "user", "reasoning", "the scripted reply is complete"));
            ex.json(200, Json.write(Map.of("candidates", List.of(candidate(List.of(Map.of("text", answer)), "STOP")))));
        } else if (path.endsWith(":countTokens")) {
            ex.json(200, "{\"totalTokens\": 10}");
        } else {
            ex.json(200, "{}");
        }
    }

    // ---- replies -------------------------------------------------------------------------------

    /** A text answer in two chunks (the CLI shows deltas), the usage on the last one. */
    public static Reply text(String text, long promptTokens, long outputTokens) {
        return ex -> {
            int half = text.length() / 2;
            ProviderStandIn.Stream s = ex.sse();
            if (half > 0) {
                s.event(null, chunk(List.of(Map.of("text", text.substring(0, half))), null, null));
            }
            s.event(null, chunk(List.of(Map.of("text", text.substring(half))), "STOP", usage(promptTokens, outputTokens)));
            s.end();
        };
    }

    /** A tool call: the CLI runs it (if allowed) and sends the result in its next model call. */
    public static Reply functionCall(String name, Map<String, Object> args, long promptTokens, long outputTokens) {
        return ex -> ex.sse()
                .event(null, chunk(List.of(Map.of("functionCall", Map.of("name", name, "args", args))), "STOP",
                        usage(promptTokens, outputTokens)))
                .end();
    }

    /** Gemini CLI's {@code write_file}: a path relative to the workspace and the whole content. */
    public static Reply writeFile(String path, String content) {
        return functionCall("write_file", Map.of("file_path", path, "content", content), 100, 5);
    }

    /** Gemini CLI's {@code run_shell_command}. */
    public static Reply shell(String command) {
        return functionCall("run_shell_command", Map.of("command", command, "description", "stand-in command"), 100, 5);
    }

    /** 401 UNAUTHENTICATED, what the API says to a key it does not know. */
    public static Reply unauthenticated() {
        return error(401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key.", List.of(), Map.of());
    }

    /** 403 PERMISSION_DENIED: a key that exists but may not use the API. */
    public static Reply permissionDenied() {
        return error(403, "PERMISSION_DENIED", "Permission denied: Consumer has been suspended.", List.of(), Map.of());
    }

    /**
     * 429 RESOURCE_EXHAUSTED with a {@code RetryInfo} detail ({@code retryDelay: "<n>s"}) and a
     * {@code retry-after} header; {@code retryDelaySec} 0 sends neither.
     */
    public static Reply resourceExhausted(int retryDelaySec) {
        List<Object> details = retryDelaySec <= 0 ? List.of()
                : List.of(Map.of("@type", "type.googleapis.com/google.rpc.RetryInfo", "retryDelay", retryDelaySec + "s"));
        Map<String, String> headers = retryDelaySec <= 0 ? Map.of() : Map.of("retry-after", String.valueOf(retryDelaySec));
        return error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", details, headers);
    }

    /** 500 INTERNAL. */
    public static Reply internal() {
        return error(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
                List.of(), Map.of());
    }

    /** 503 UNAVAILABLE, the API's "overloaded". */
    public static Reply unavailable() {
        return error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", List.of(), Map.of());
    }

    public static Reply error(int code, String status, String message, List<Object> details, Map<String, String> headers) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("code", code);
        err.put("message", message);
        err.put("status", status);
        if (!details.isEmpty()) {
            err.put("details", details);
        }
        String body = Json.write(Map.of("error", err));
        return ex -> ex.json(code, headers, body);
    }

    /** Starts an answer, then sends nothing more with the connection open: the CLI waits, silent. */
    public static Reply stall() {
        return ex -> ex.sse().event(null, chunk(List.of(Map.of("text", "Let me think about")), null, null)).stall();
    }

    /**
     * An answer that never ends: a text chunk every {@code period}, each shown by the CLI as a delta, so
     * the step is never idle and only a wall timeout ends it. Each chunk differs: the CLI's loop
     * detection stops a stream that repeats one chunk ten times ("Loop detected, stopping execution")
     * and ends the run as a success, so {@link ProviderStandIn.Stream#forever}'s fixed keep-alive will
     * not do. It ends when the CLI goes away (the write fails) or the stand-in closes.
     */
    public static Reply forever(Duration period) {
        return ex -> ex.sse().forever(i -> "data: " + chunk(List.of(Map.of("text", "part " + i + " of "
                + Long.toHexString(i * 0x9E3779B97F4A7C15L) + ". ")), null, null) + "\n\n", period);
    }

    private static String chunk(List<Map<String, Object>> parts, String finishReason, Map<String, Object> usage) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("candidates", List.of(candidate(parts, finishReason)));
        if (usage != null) {
            m.put("usageMetadata", usage);
        }
        m.put("modelVersion", "gemini-2.5-pro");
        return Json.write(m);
    }

    private static Map<String, Object> candidate(List<Map<String, Object>> parts, String finishReason) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("content", Map.of("role", "model", "parts", parts));
        if (finishReason != null) {
            c.put("finishReason", finishReason);
        }
        c.put("index", 0);
        return c;
    }

    private static Map<String, Object> usage(long prompt, long output) {
        return Map.of("promptTokenCount", prompt, "candidatesTokenCount", output, "totalTokenCount", prompt + output);
    }
}
