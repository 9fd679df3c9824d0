package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.agent.AgentDefinition;

/**
 * Claude Code: {@code claude -p --output-format stream-json --verbose [--max-turns N] <args>
 * [--allowedTools a,b]}, the prompt on stdin. {@code --allowedTools} takes a variadic list, so it
 * goes last where it cannot swallow an operator's argument. In print mode a tool that is not
 * allowed is denied, never prompted for.
 *
 * <p>Output contract (stream-json, one JSON object a line): {@code {"type":"system","subtype":"init",
 * "session_id"}}, {@code {"type":"system","subtype":"api_retry","error_status","error"}} while it
 * retries the API, {@code {"type":"assistant","message":{"id","content":[{"type":"text","text"}],
 * "usage"}}} (one message may come in several events with the same id), and one final
 * {@code {"type":"result","subtype","is_error","result","num_turns","total_cost_usd","usage"}}.
 * {@code is_error: true} is a failure whatever the exit status. Observed with 2.1.330 and no key:
 * exit 1, an assistant event with {@code "error":"authentication_failed"} and a result
 * {@code "Not logged in · Please run /login"}; with a key and no network: api_retry events with
 * growing delays (10 retries); before the first event it is silent for ~18 s (its start-up calls
 * time out), so with a shorter idle timeout the step ends {@code idle_timeout}, with a longer one
 * {@code provider_unreachable} from the retries.
 */
final class ClaudeCodeAdapter implements AgentAdapter {
    static final ClaudeCodeAdapter INSTANCE = new ClaudeCodeAdapter();

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = new ArrayList<>(List.of(def.binary(), "-p", "--output-format", "stream-json", "--verbose"));
        if (opts.maxTurns() != null) {
            head.addAll(List.of("--max-turns", String.valueOf(opts.maxTurns())));
        }
        List<String> tail = opts.allowedTools() == null ? List.of()
                : List.of("--allowedTools", String.join(",", opts.allowedTools()));
        return new Invocation(AgentAdapter.argv(head, def, tail), def.env(), ctx.promptFile());
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
        /** usage per assistant message id: a message streamed in several events reports its usage in each */
        private final Map<String, long[]> usage = new LinkedHashMap<>();

        @Override
        protected void event(JsonNode e) {
            if (e.hasNonNull("session_id")) {
                sessionId = e.get("session_id").asText();
            }
            switch (e.path("type").asText()) {
                case "system" -> {
                    if (e.path("subtype").asText().equals("api_retry")) {
                        int status = e.path("error_status").asInt(0);
                        String err = e.path("error").asText("");
                        String code = status == 429 || err.contains("rate_limit") ? "rate_limited"
                                : status == 401 || status == 403 || err.contains("authentication") ? "auth_failed"
                                : "provider_unreachable";
                        error(code, "API retry " + e.path("attempt").asInt() + "/" + e.path("max_retries").asInt()
                                + ": " + (status == 0 ? "no HTTP response" : "HTTP " + status) + " (" + err + ")");
                    }
                }
                case "assistant" -> assistant(e);
                case "result" -> result(e);
                default -> {
                }
            }
        }

        private void assistant(JsonNode e) {
            JsonNode m = e.path("message");
            StringBuilder text = new StringBuilder();
            for (JsonNode c : m.path("content")) {
                if (c.path("type").asText().equals("text")) {
                    text.append(c.path("text").asText());
                }
            }
            if (!text.isEmpty()) {
                finalMessage = text.toString();
            }
            String id = m.path("id").asText("event-" + usage.size());
            JsonNode u = m.path("usage");
            if (u.isObject()) {
                usage.put(id, new long[] {inputTokens(u), u.path("output_tokens").asLong()});
            } else {
                usage.putIfAbsent(id, new long[2]);
            }
            turns = usage.size();
            tokensIn = usage.values().stream().mapToLong(x -> x[0]).sum();
            tokensOut = usage.values().stream().mapToLong(x -> x[1]).sum();
            if (e.hasNonNull("error")) {
                String err = e.get("error").asText();
                String code = ErrorText.classify(err);
                error(code != null ? code : "agent_exit_nonzero", err + (text.isEmpty() ? "" : ": " + text));
            }
        }

        private void result(JsonNode e) {
            resultSeen = true;
            resultIsError = e.path("is_error").asBoolean(false);
            if (e.hasNonNull("result")) {
                finalMessage = e.get("result").asText();
            }
            turns = Math.max(turns, e.path("num_turns").asInt(turns));
            costUsd = e.path("total_cost_usd").asDouble(costUsd);
            JsonNode u = e.path("usage");
            if (u.isObject()) {
                tokensIn = Math.max(tokensIn, inputTokens(u));
                tokensOut = Math.max(tokensOut, u.path("output_tokens").asLong());
            }
            String subtype = e.path("subtype").asText("");
            if (subtype.equals("error_max_turns") || subtype.equals("error_max_budget_usd")) {
                resultIsError = true;
                error("budget_exceeded", "Claude Code stopped: " + subtype);
            } else if (resultIsError) {
                String detail = finalMessage != null ? finalMessage : subtype;
                String code = ErrorText.classify(detail + " " + e.path("api_error_status").asText(""));
                if (code != null || errorCode == null) {
                    error(code, detail);
                    if (code == null) {
                        errorDetail = cut(detail);
                    }
                }
            }
        }

        private static long inputTokens(JsonNode u) {
            return u.path("input_tokens").asLong() + u.path("cache_creation_input_tokens").asLong()
                    + u.path("cache_read_input_tokens").asLong();
        }
    }
}
