package orchestrator.runner.standin;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;

/**
 * OpenAI's HTTP API as the Codex CLI and OpenCode call it. Each CLI speaks a different half of it, so
 * every {@link Reply} below answers in the wire format of the request it gets:
 *
 * <ul>
 * <li><b>Responses API</b> ({@code POST /v1/responses}, codex 0.169.0: {@code wire_api = "responses"},
 * the only one it still accepts). The body is {@code {model, input: [items], tools, stream: true, …}};
 * the answer is SSE, each event {@code event: <type>} and {@code data: {"type": <type>, …}}:
 * {@code response.created {response: {id}}}, then per output item {@code response.output_item.added
 * {output_index, item}}, for a message {@code response.output_text.delta {item_id, delta}}, then
 * {@code response.output_item.done {item}} with the whole item (a {@code message} with
 * {@code content: [{type: output_text, text}]}, or a {@code function_call {call_id, name,
 * arguments}}), and last {@code response.completed {response: {id, usage: {input_tokens,
 * output_tokens, total_tokens, …_details}}}}. Codex acts on the {@code .done} items and reads usage
 * only from {@code response.completed}; a stream that ends without it is a failed attempt that codex
 * retries. Tools it offers: {@code exec_command {cmd}} (the unified-exec shell), or {@code shell
 * {command: [argv]}} in older builds; {@link #shell} uses whichever the request lists.</li>
 * <li><b>Chat Completions</b> ({@code POST /v1/chat/completions}, opencode 1.18.33 through its
 * bundled {@code @ai-sdk/openai-compatible}). The body is {@code {model, messages, tools, stream: true,
 * stream_options: {include_usage: true}}}; the answer is SSE {@code data:} lines without event names,
 * each a {@code chat.completion.chunk} with {@code choices[0].delta} ({@code content}, or
 * {@code tool_calls [{index, id, type: function, function: {name, arguments}}]}), then a chunk with
 * {@code finish_reason} ({@code stop} or {@code tool_calls}), then one with {@code choices: []} and
 * {@code usage {prompt_tokens, completion_tokens, total_tokens}}, then {@code data: [DONE]}.
 * OpenCode's shell tool is {@code bash {command, description}}.</li>
 * </ul>
 *
 * <p>Errors are JSON bodies {@code {"error": {message, type, code}}} with the HTTP status, as OpenAI
 * sends them; {@code GET /v1/models} lists {@link #MODEL}. A reply that sends a tool call makes the CLI
 * call the model again with the tool's result: script the next reply (or rely on the default, a
 * short text answer with {@link #DEFAULT_USAGE}).
 */
public final class OpenAiStandIn extends ProviderStandIn {
    public static final String MODEL = "gpt-standin";
    public static final Usage DEFAULT_USAGE = new Usage(11, 3);

    /** Token counts the stand-in reports for one model call. */
    public record Usage(long in, long out) {
    }

    @Override
    protected boolean isModelCall(Request r) {
        return r.method().equals("POST") && (responses(r) || r.path().endsWith("/chat/completions"));
    }

    @Override
    protected Reply defaultReply(Request r) {
        return text("Done.", DEFAULT_USAGE);
    }

    @Override
    protected void other(Exchange ex) throws IOException {
        if (ex.request().path().endsWith("/models")) {
            ex.json(200, Json.write(Map.of("object", "list",
                    "data", List.of(Map.of("id", MODEL, "object", "model", "owned_by", "standin")))));
        } else {
            ex.json(404, error("no such endpoint " + ex.request().path(), "invalid_request_error", null));
        }
    }

    /** A plain text answer that ends the CLI's turn. */
    public static Reply text(String message, Usage usage) {
        return ex -> {
            Stream s = ex.sse();
            if (responses(ex.request())) {
                Map<String, Object> item = message("msg_1", message);
                created(s);
                s.event("response.output_item.added", event("response.output_item.added", "output_index", 0,
                        "item", message("msg_1", null)));
                s.event("response.output_text.delta", event("response.output_text.delta", "item_id", "msg_1",
                        "output_index", 0, "content_index", 0, "delta", message));
                s.event("response.output_item.done", event("response.output_item.done", "output_index", 0, "item", item));
                completed(s, usage);
            } else {
                chunk(s, Map.of("role", "assistant", "content", message), null);
                chunk(s, Map.of(), "stop");
                chatUsage(s, usage);
            }
            s.end();
        };
    }

    /** A tool call that runs {@code command} in the CLI's shell (in its workspace). */
    public static Reply shell(String command, Usage usage) {
        return ex -> {
            Stream s = ex.sse();
            if (responses(ex.request())) {
                boolean unified = offersTool(ex.request(), "exec_command");
                Map<String, Object> args = unified ? Map.of("cmd", command) : Map.of("command", List.of("bash", "-lc", command));
                Map<String, Object> call = new LinkedHashMap<>();
                call.put("type", "function_call");
                call.put("id", "fc_1");
                call.put("call_id", "call_1");
                call.put("name", unified ? "exec_command" : "shell");
                call.put("arguments", Json.write(args));
                call.put("status", "completed");
                created(s);
                s.event("response.output_item.added", event("response.output_item.added", "output_index", 0, "item", call));
                s.event("response.output_item.done", event("response.output_item.done", "output_index", 0, "item", call));
                completed(s, usage);
            } else {
                Map<String, Object> fn = Map.of("name", "bash",
                        "arguments", Json.write(Map.of("command", command, "description", "Runs the stand-in's command")));
                chunk(s, Map.of("role", "assistant", "tool_calls",
                        List.of(Map.of("index", 0, "id", "call_1", "type", "function", "function", fn))), null);
                chunk(s, Map.of(), "tool_calls");
                chatUsage(s, usage);
            }
            s.end();
        };
    }

    /** A tool call that writes {@code content} to {@code file} (relative to the CLI's workspace). */
    public static Reply writeFile(String file, String content, Usage usage) {
        return shell("printf '%s' " + quoted(content) + " > " + quoted(file), usage);
    }

    /** An HTTP error with OpenAI's error body. */
    public static Reply status(int code, Map<String, String> headers, String message, String type, String errorCode) {
        return ex -> ex.json(code, headers, error(message, type, errorCode));
    }

    public static Reply unauthorized() {
        return status(401, Map.of(), "Incorrect API key provided: sk-stan***. You can find your API key at"
                + " https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key");
    }

    /** 429 with {@code retry-after} in seconds, and the "try again in" text OpenAI puts in the message. */
    public static Reply rateLimited(int retryAfterSec) {
        return status(429, Map.of("retry-after", String.valueOf(retryAfterSec)), "Rate limit reached for " + MODEL
                + " on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in " + retryAfterSec + "s.",
                "requests", "rate_limit_exceeded");
    }

    public static Reply serverError() {
        return status(500, Map.of(), "The server had an error while processing your request. Sorry about that!",
                "server_error", null);
    }

    /** 503 with OpenAI's "overloaded" wording (its counterpart of Anthropic's 529). */
    public static Reply overloaded() {
        return status(503, Map.of(), "The engine is currently overloaded, please try again later.", "server_error", null);
    }

    /** Starts the answer (the first words of a message), then sends nothing more: a stalled stream. */
    public static Reply stalled() {
        return ex -> {
            Stream s = ex.sse();
            if (responses(ex.request())) {
                created(s);
                s.event("response.output_item.added", event("response.output_item.added", "output_index", 0,
                        "item", message("msg_1", null)));
                s.event("response.output_text.delta", event("response.output_text.delta", "item_id", "msg_1",
                        "output_index", 0, "content_index", 0, "delta", "Let me"));
            } else {
                chunk(s, Map.of("role", "assistant", "content", "Let me"), null);
            }
            s.stall();
        };
    }

    /**
     * Starts the answer, then sends an SSE comment (which both CLIs' parsers skip) every second and
     * never finishes: bytes keep coming, so neither CLI's own stream-idle timer fires.
     */
    public static Reply neverEnding() {
        return ex -> {
            Stream s = ex.sse();
            if (responses(ex.request())) {
                created(s);
            } else {
                chunk(s, Map.of("role", "assistant", "content", ""), null);
            }
            s.forever(": keep-alive\n\n", Duration.ofSeconds(1));
        };
    }

    /** The text of every message the request carries, in order, whatever the wire format: what a test asserts was sent. */
    public static List<String> texts(Request r) {
        List<String> out = new ArrayList<>();
        JsonNode b = r.json();
        for (JsonNode m : responses(r) ? b.path("input") : b.path("messages")) {
            JsonNode c = m.path("content");
            if (c.isTextual()) {
                out.add(m.path("role").asText() + ": " + c.asText());
            }
            for (JsonNode part : c) {
                if (part.hasNonNull("text")) {
                    out.add(m.path("role").asText() + ": " + part.get("text").asText());
                }
            }
        }
        return out;
    }

    private static boolean responses(Request r) {
        return r.path().endsWith("/responses");
    }

    private static boolean offersTool(Request r, String name) {
        for (JsonNode t : r.json().path("tools")) {
            if (name.equals(t.path("name").asText())) {
                return true;
            }
        }
        return false;
    }

    private static String quoted(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static String error(String message, String type, String code) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("message", message);
        e.put("type", type);
        e.put("param", null);
        e.put("code", code);
        return Json.write(Map.of("error", e));
    }

    /** A Responses API event body: {@code type} then the given key/value pairs. */
    private static String event(String type, Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return Json.write(m);
    }

    /** An assistant message item; {@code text} null: the in-progress item, before its content. */
    private static Map<String, Object> message(String id, String text) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "message");
        m.put("id", id);
        m.put("role", "assistant");
        m.put("status", text == null ? "in_progress" : "completed");
        m.put("content", text == null ? List.of() : List.of(Map.of("type", "output_text", "text", text, "annotations", List.of())));
        return m;
    }

    private static void created(Stream s) throws IOException {
        s.event("response.created", event("response.created", "response",
                Map.of("id", "resp_1", "object", "response", "status", "in_progress", "model", MODEL, "output", List.of())));
    }

    private static void completed(Stream s, Usage u) throws IOException {
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("input_tokens", u.in());
        usage.put("input_tokens_details", Map.of("cached_tokens", 0));
        usage.put("output_tokens", u.out());
        usage.put("output_tokens_details", Map.of("reasoning_tokens", 0));
        usage.put("total_tokens", u.in() + u.out());
        s.event("response.completed", event("response.completed", "response",
                Map.of("id", "resp_1", "object", "response", "status", "completed", "model", MODEL, "usage", usage)));
    }

    private static void chunk(Stream s, Map<String, Object> delta, String finishReason) throws IOException {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        choice.put("delta", delta);
        choice.put("finish_reason", finishReason);
        s.event(null, Json.write(Map.of("id", "chatcmpl-1", "object", "chat.completion.chunk", "created", 1,
                "model", MODEL, "choices", List.of(choice))));
    }

    private static void chatUsage(Stream s, Usage u) throws IOException {
        s.event(null, Json.write(Map.of("id", "chatcmpl-1", "object", "chat.completion.chunk", "created", 1,
                "model", MODEL, "choices", List.of(),
                "usage", Map.of("prompt_tokens", u.in(), "completion_tokens", u.out(), "total_tokens", u.in() + u.out()))));
        s.raw("data: [DONE]\n\n");
    }
}
