package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import orchestrator.core.agent.AgentDefinition;

/**
 * OpenCode: {@code opencode run --format json --print-logs --log-level ERROR <args>}, the prompt on
 * stdin (opencode run appends piped stdin to its message). It has no allowed-tools or max-turns
 * flag; in {@code run} mode a permission request is auto-rejected, never waited on.
 *
 * <p>Output contract ({@code --format json}, JSONL, each with {@code type}, {@code timestamp},
 * {@code sessionID}): {@code step_start}, {@code text {part: {text}}}, {@code tool_use},
 * {@code reasoning}, {@code step_finish {part: {reason, cost, tokens: {input, output, reasoning,
 * cache: {read, write}}}}} and {@code error {error: {name, data: {message}}}}. The run ends after a
 * step_finish whose reason is {@code stop}. Observed with 1.18.33 and no network: nothing at all
 * on stdout while it retries its provider forever; that is why the logs go to stderr at ERROR
 * level: "Cannot connect to API" lines tell the cause, and after {@value #UNREACHABLE_ABORT} of
 * them the step is aborted {@code provider_unreachable} instead of waiting for a timer.
 */
final class OpenCodeAdapter implements AgentAdapter {
    static final OpenCodeAdapter INSTANCE = new OpenCodeAdapter();
    static final int UNREACHABLE_ABORT = 3;

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = List.of(def.binary(), "run", "--format", "json", "--print-logs", "--log-level", "ERROR");
        return new Invocation(AgentAdapter.argv(head, def, List.of()), def.env(), ctx.promptFile());
    }

    @Override
    public boolean structured() {
        return true;
    }

    @Override
    public OutputParser parser() {
        return new Parser();
    }

    static final class Parser extends OutputParser {
        private int unreachable;

        @Override
        protected void event(JsonNode e) {
            if (e.hasNonNull("sessionID")) {
                sessionId = e.get("sessionID").asText();
            }
            JsonNode part = e.path("part");
            switch (e.path("type").asText()) {
                case "text" -> finalMessage = part.path("text").asText(finalMessage);
                case "step_finish" -> {
                    turns++;
                    JsonNode t = part.path("tokens");
                    tokensIn += t.path("input").asLong() + t.path("cache").path("read").asLong()
                            + t.path("cache").path("write").asLong();
                    tokensOut += t.path("output").asLong() + t.path("reasoning").asLong();
                    costUsd += part.path("cost").asDouble();
                    if (part.path("reason").asText().equals("stop")) {
                        resultSeen = true;
                    }
                }
                case "error" -> {
                    JsonNode err = e.path("error");
                    String name = err.path("name").asText("");
                    String msg = err.path("data").path("message").asText(name);
                    resultIsError = true;
                    String code = name.equals("ProviderAuthError") ? "auth_failed" : ErrorText.classify(name + " " + msg);
                    error(code, name + ": " + msg);
                    if (code == null) {
                        errorDetail = cut(name + ": " + msg);
                    }
                }
                default -> {
                }
            }
        }

        @Override
        protected void text(String line) {
            String code = ErrorText.classify(line);
            if (code == null) {
                return;
            }
            error(code, line);
            if (code.equals("auth_failed")) {
                abort(code, "opencode's provider refused its credentials: " + line);
            } else if (code.equals("provider_unreachable") && ++unreachable >= UNREACHABLE_ABORT) {
                abort(code, "opencode cannot reach its provider (" + unreachable + " connection errors): " + line);
            }
        }
    }
}
