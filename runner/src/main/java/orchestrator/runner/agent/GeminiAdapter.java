package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import orchestrator.core.agent.AgentDefinition;

/**
 * Gemini CLI: {@code gemini --output-format stream-json --skip-trust -p <PROMPT_SUFFIX> <args>
 * [--allowed-tools t…]}, the prompt on stdin ({@code -p} is appended to stdin, so the argv stays
 * small). {@code --skip-trust}: a job's workspace is never a trusted folder, and without it
 * headless gemini exits 55 at once. {@code --allowed-tools} is deprecated but still honoured and
 * variadic, so it goes last. No max-turns flag (that is a settings.json key).
 *
 * <p>Output contract (stream-json, JSONL): {@code init {session_id, model}}, {@code message {role,
 * content, delta}} (assistant text comes in deltas), {@code tool_use}, {@code tool_result},
 * {@code error {severity, message}}, and a final {@code result {status: success|error, error:
 * {type, message}, stats: {input_tokens, output_tokens, total_tokens, tool_calls}}}. Exit codes
 * (FatalError subclasses): 41 auth, 42 input, 44 sandbox, 52 config, 53 turn limit, 54 tool
 * execution, 55 untrusted workspace, 130 cancelled. Observed with 0.61.0: no key → exit 41 and
 * "Please set an Auth method …" on stderr within ~3 s; a key and no network → "Attempt n failed.
 * Retrying with backoff... fetch failed" on stderr with growing pauses, ended by the idle timer.
 */
final class GeminiAdapter implements AgentAdapter {
    static final GeminiAdapter INSTANCE = new GeminiAdapter();
    static final String PROMPT_SUFFIX = "Carry out the task described above.";

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = List.of(def.binary(), "--output-format", "stream-json", "--skip-trust", "-p", PROMPT_SUFFIX);
        List<String> tail = new ArrayList<>();
        if (opts.allowedTools() != null && !opts.allowedTools().isEmpty()) {
            tail.add("--allowed-tools");
            tail.addAll(opts.allowedTools());
        }
        return new Invocation(AgentAdapter.argv(head, def, tail), def.env(), ctx.promptFile());
    }

    @Override
    public boolean structured() {
        return true;
    }

    /**
     * Gemini CLI runs on Node, whose fetch (undici) instantiates WebAssembly; V8 reserves guard
     * regions of virtual memory for it, so under an address-space rlimit of 4 or 16 GB gemini dies
     * at its first request with "RangeError: WebAssembly.instantiate(): Out of memory" (observed
     * with 0.61.0; 64 GB works). RLIMIT_AS caps virtual, not resident, memory: a real memory cap for
     * such a CLI needs a cgroup, e.g. {@code SANDBOX_WRAPPER="systemd-run --scope -p MemoryMax=2G"}.
     */
    @Override
    public long minAddressSpaceMb() {
        return 64L * 1024;
    }

    @Override
    public String exitCodeMeaning(int exitCode) {
        return switch (exitCode) {
            case 41 -> "auth_failed";
            case 44, 52, 55 -> "policy";
            case 53 -> "budget_exceeded";
            case 130 -> "cancelled";
            default -> null;
        };
    }

    @Override
    public OutputParser parser() {
        return new Parser();
    }

    static final class Parser extends OutputParser {
        private final StringBuilder reply = new StringBuilder();
        private boolean inReply;

        @Override
        protected void event(JsonNode e) {
            switch (e.path("type").asText()) {
                case "init" -> sessionId = text(e, "session_id");
                case "message" -> {
                    if (!e.path("role").asText().equals("assistant")) {
                        return;
                    }
                    if (!inReply || !e.path("delta").asBoolean(false)) {
                        reply.setLength(0);
                        turns++;
                    }
                    inReply = true;
                    reply.append(e.path("content").asText());
                    finalMessage = reply.toString();
                }
                case "tool_use", "tool_result" -> inReply = false;
                case "error" -> {
                    String msg = e.path("message").asText();
                    error(ErrorText.classify(msg), msg);
                }
                case "result" -> {
                    resultSeen = true;
                    JsonNode s = e.path("stats");
                    tokensIn = s.path("input_tokens").asLong(tokensIn);
                    tokensOut = s.path("output_tokens").asLong(tokensOut);
                    if (e.path("status").asText().equals("error")) {
                        resultIsError = true;
                        String type = e.path("error").path("type").asText("");
                        String msg = e.path("error").path("message").asText(type);
                        String code = type.equals("FatalTurnLimitedError") ? "budget_exceeded"
                                : type.equals("FatalAuthenticationError") ? "auth_failed" : ErrorText.classify(msg);
                        error(code, type + ": " + msg);
                        if (code == null) {
                            errorDetail = cut(type + ": " + msg);
                        }
                    }
                }
                default -> {
                }
            }
        }
    }
}
