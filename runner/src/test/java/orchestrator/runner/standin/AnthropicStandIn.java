package orchestrator.runner.standin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.Json;

/**
 * The Anthropic Messages API as Claude Code 2.1.330 uses it, for {@code ANTHROPIC_BASE_URL}.
 *
 * <p>Wire contract, recorded by running the real CLI against a logging server:
 * <ul>
 *   <li>At start it sends {@code HEAD /api/hello} (a pre-connect, fire and forget: any answer does).
 *       With {@code ANTHROPIC_BASE_URL} set it calls nothing else before the first turn (no
 *       policy-limits or managed-settings fetch, no telemetry host is needed).</li>
 *   <li>Each model turn is {@code POST /v1/messages?beta=true} with {@code "stream": true}, the key in
 *       {@code x-api-key}, and the whole conversation in {@code messages}. It is answered as SSE:
 *       {@code message_start} (the message id and the input usage), then per content block
 *       {@code content_block_start}/{@code content_block_delta}/{@code content_block_stop}, then
 *       {@code message_delta} (stop_reason and the final {@code output_tokens}) and {@code message_stop};
 *       {@code ping} may come anywhere. The CLI prints its {@code assistant} event at
 *       {@code content_block_stop}, so that event carries the usage of {@code message_start} only; its
 *       {@code result} sums {@code message_start} input and {@code message_delta} output over the turns
 *       and prices them with its own table (claude-opus-5-5: $4/M in, $20/M out as observed).</li>
 *   <li>A tool call is a {@code tool_use} block whose input comes as {@code input_json_delta} text,
 *       with {@code stop_reason: tool_use}; the CLI runs the tool and sends the next turn with the
 *       {@code tool_result}.</li>
 *   <li>Errors are JSON {@code {"type":"error","error":{"type","message"}}} with the HTTP status; the
 *       CLI retries 401, 429 (after {@code retry-after}), 5xx and 529 up to 10 times, printing a
 *       {@code system/api_retry} event before each wait ({@code error_status}, {@code retry_delay_ms}).
 *       529 gives up after 3 tries with a {@code result} "Repeated 529 Overloaded errors".</li>
 *   <li>Non-streaming {@code /v1/messages} (side calls such as titles) and {@code count_tokens} are
 *       not model turns; none were seen in {@code -p} runs, but they are answered in case.</li>
 * </ul>
 */
public final class AnthropicStandIn extends ProviderStandIn {
    private static final AtomicInteger IDS = new AtomicInteger();

    /** A model turn: a streamed POST to /v1/messages (not count_tokens, not a non-streaming side call). */
    @Override
    protected boolean isModelCall(Request r) {
        return r.method().equals("POST") && r.path().equals("/v1/messages") && r.json().path("stream").asBoolean(false);
    }

    @Override
    protected Reply defaultReply(Request r) {
        return text("Done.", 10, 5);
    }

    @Override
    protected void other(Exchange ex) throws IOException {
        Request r = ex.request();
        if (r.path().equals("/v1/messages/count_tokens")) {
            ex.json(200, "{\"input_tokens\": 10}");
        } else if (r.method().equals("POST") && r.path().equals("/v1/messages")) {
            ex.json(200, "{\"id\":\"" + nextId() + "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                    + Json.write(r.json().path("model").asText("claude")) + ",\"content\":[{\"type\":\"text\",\"text\":\"Side call\"}],"
                    + "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}");
        } else if (r.method().equals("HEAD")) {
            ex.json(200, "");
        } else {
            ex.json(200, "{}");
        }
    }

    private static String nextId() {
        return "msg_standin_" + IDS.incrementAndGet();
    }

    /** A turn that ends with {@code text}, reporting {@code in} input and {@code out} output tokens. */
    public static Reply text(String text, long in, long out) {
        return ex -> {
            ProviderStandIn.Stream s = start(ex, in);
            block(s, 0, "{\"type\":\"text\",\"text\":\"\"}", "{\"type\":\"text_delta\",\"text\":" + Json.write(text) + "}");
            finish(s, "end_turn", out);
        };
    }

    /** A turn that calls {@code tool} with {@code input} (then the CLI runs it and asks again). */
    public static Reply toolUse(String tool, Map<String, Object> input, long in, long out) {
        return ex -> {
            ProviderStandIn.Stream s = start(ex, in);
            block(s, 0, "{\"type\":\"tool_use\",\"id\":\"toolu_" + IDS.incrementAndGet() + "\",\"name\":" + Json.write(tool) + ",\"input\":{}}",
                    "{\"type\":\"input_json_delta\",\"partial_json\":" + Json.write(Json.write(input)) + "}");
            finish(s, "tool_use", out);
        };
    }

    /** The Write tool: creates {@code path} (absolute, or relative to the CLI's cwd) with {@code content}. */
    public static Reply write(String path, String content, long in, long out) {
        return toolUse("Write", Map.of("file_path", path, "content", content), in, out);
    }

    /** The Bash tool running {@code command}. */
    public static Reply bash(String command, long in, long out) {
        return toolUse("Bash", Map.of("command", command, "description", "run a command"), in, out);
    }

    /** An error answer as the API sends it. */
    public static Reply error(int status, String type, Map<String, String> headers) {
        ObjectNode body = Json.mapper().createObjectNode().put("type", "error");
        body.putObject("error").put("type", type).put("message", type + " (from the stand-in)");
        return ex -> ex.json(status, headers, body.toString());
    }

    /** 401 authentication_error: a rejected key. */
    public static Reply unauthorized() {
        return error(401, "authentication_error", Map.of());
    }

    /** 429 rate_limit_error with {@code retry-after} in seconds. */
    public static Reply rateLimited(int retryAfterSec) {
        return error(429, "rate_limit_error", Map.of("retry-after", String.valueOf(retryAfterSec)));
    }

    /** 500 api_error. */
    public static Reply serverError() {
        return error(500, "api_error", Map.of());
    }

    /** 529 overloaded_error. */
    public static Reply overloaded() {
        return error(529, "overloaded_error", Map.of());
    }

    /** A turn that starts, sends half a text block and then nothing while holding the connection. */
    public static Reply stallHalfway() {
        return ex -> {
            ProviderStandIn.Stream s = start(ex, 10);
            s.event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
            s.event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Half \"}}");
            s.stall();
        };
    }

    /** A turn that starts and then sends a {@code ping} event every {@code period}, never ending. */
    public static Reply pingForever(Duration period) {
        return ex -> {
            ProviderStandIn.Stream s = start(ex, 10);
            s.forever("event: ping\ndata: {\"type\":\"ping\"}\n\n", period);
        };
    }

    private static ProviderStandIn.Stream start(Exchange ex, long in) throws IOException {
        ProviderStandIn.Stream s = ex.sse();
        String model = ex.request().json().path("model").asText("claude");
        s.event("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"" + nextId() + "\",\"type\":\"message\","
                + "\"role\":\"assistant\",\"model\":" + Json.write(model) + ",\"content\":[],\"stop_reason\":null,"
                + "\"stop_sequence\":null,\"usage\":{\"input_tokens\":" + in + ",\"output_tokens\":1}}}");
        s.event("ping", "{\"type\":\"ping\"}");
        return s;
    }

    private static void block(ProviderStandIn.Stream s, int index, String start, String delta) throws IOException {
        s.event("content_block_start", "{\"type\":\"content_block_start\",\"index\":" + index + ",\"content_block\":" + start + "}");
        s.event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" + index + ",\"delta\":" + delta + "}");
        s.event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + index + "}");
    }

    private static void finish(ProviderStandIn.Stream s, String stopReason, long out) throws IOException {
        s.event("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" + stopReason
                + "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":" + out + "}}");
        s.event("message_stop", "{\"type\":\"message_stop\"}");
        s.end();
    }
}
