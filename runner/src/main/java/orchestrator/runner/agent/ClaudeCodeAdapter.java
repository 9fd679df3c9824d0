package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
 * growing delays (10 retries); before the first event it is silent for ~18 s (on the first-party API
 * it waits at start for api.anthropic.com, which does not resolve; any {@code ANTHROPIC_BASE_URL} skips
 * that), so with a shorter idle timeout the step ends {@code idle_timeout}, with a longer one
 * {@code provider_unreachable} from the retries. Against an API that answers (docs/agents/claude.md):
 * 401, 429 and 5xx each give api_retry events with {@code error_status} and {@code retry_delay_ms},
 * a refused tool call a success result with {@code permission_denials}.
 */
final class ClaudeCodeAdapter implements AgentAdapter {
    static final ClaudeCodeAdapter INSTANCE = new ClaudeCodeAdapter();

    /** A print-mode run may edit files in its workspace (a throwaway clone) unless the operator's args say otherwise. */
    static final String DEFAULT_PERMISSION_MODE = "acceptEdits";
    /** Env for every run: the runner pins the CLI's version, so the CLI must not update itself under a job. */
    static final Map<String, String> DEFAULT_ENV = Map.of("DISABLE_AUTOUPDATER", "1");

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = new ArrayList<>(List.of(def.binary(), "-p", "--output-format", "stream-json", "--verbose"));
        if (opts.maxTurns() != null) {
            head.addAll(List.of("--max-turns", String.valueOf(opts.maxTurns())));
        }
        if (opts.maxCostUsd() != null) {
            // claude prints its cost only in the final result, so the runner cannot stop it at the job's
            // max_cost_usd mid-run; the CLI checks its own budget after every turn
            head.addAll(List.of("--max-budget-usd", String.format(Locale.ROOT, "%.6f", Math.max(0, opts.maxCostUsd()))));
        }
        if (def.args().stream().noneMatch(a -> a.equals("--permission-mode") || a.startsWith("--permission-mode=")
                || a.equals("--dangerously-skip-permissions"))) {
            // without it -p mode refuses every Write/Edit ("you haven't granted it yet"): a coding job that cannot edit
            head.addAll(List.of("--permission-mode", DEFAULT_PERMISSION_MODE));
        }
        if (opts.resumeSession() != null) {
            head.addAll(List.of("--resume", opts.resumeSession()));
        }
        List<String> tail = opts.allowedTools() == null ? List.of()
                : List.of("--allowedTools", String.join(",", opts.allowedTools()));
        Map<String, String> env = AgentAdapter.env(DEFAULT_ENV, def);
        return new Invocation(AgentAdapter.argv(head, def, tail), env, ctx.promptFile());
    }

    @Override
    public boolean resumesSessions() {
        return true;
    }

    /**
     * Claude keeps a session's transcript (every prompt, answer and tool result, 139 KB for a one-line
     * answer with 2.1.330) in {@code <config dir>/projects/<working directory, each character not a
     * letter or digit made ->/}, where the config dir is {@code CLAUDE_CONFIG_DIR} or {@code ~/.claude};
     * it deletes them itself only after {@code cleanupPeriodDays} (30 by default). A workspace's folder
     * there is the job's alone: it goes with the workspace. A name longer than
     * {@value #MAX_PROJECT_NAME} characters gets a hash of claude's own and is not predicted here.
     */
    @Override
    public List<Path> leftOutside(Path workspace, Map<String, String> env, String sessionId, java.time.Instant started)
            throws java.io.IOException {
        String name = projectFolderName(workspace.toRealPath().toString());
        return name == null ? List.of() : List.of(configDir(env).resolve("projects").resolve(name));
    }

    /** The longest project folder name claude uses as it is; a longer one is cut and given a hash. */
    static final int MAX_PROJECT_NAME = 200;

    /** Claude's folder name for a working directory: each UTF-16 unit not an ASCII letter or digit becomes '-'. */
    static String projectFolderName(String cwd) {
        StringBuilder b = new StringBuilder(cwd.length());
        for (int i = 0; i < cwd.length(); i++) {
            char c = cwd.charAt(i);
            b.append(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ? c : '-');
        }
        return b.length() <= MAX_PROJECT_NAME ? b.toString() : null;
    }

    /** Where claude keeps its state: {@code CLAUDE_CONFIG_DIR}, else {@code ~/.claude}. */
    static Path configDir(Map<String, String> env) {
        String dir = env.get("CLAUDE_CONFIG_DIR");
        return dir == null || dir.isBlank() ? AgentAdapter.home(env).resolve(".claude") : Path.of(dir);
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
        /** The CLI's own API retries a step that has done some work may take before it is ended. */
        static final int MID_RUN_RETRIES = 3;

        @Override
        protected void event(JsonNode e) {
            if (e.hasNonNull("session_id")) {
                sessionId = e.get("session_id").asText();
            }
            switch (e.path("type").asText()) {
                case "system" -> {
                    if (e.path("subtype").asText().equals("api_retry")) {
                        apiRetry(e);
                    }
                }
                case "assistant" -> assistant(e);
                case "result" -> result(e);
                default -> {
                }
            }
        }

        /**
         * One of the CLI's own API retries (up to 10, over ~6 minutes). A rejected key never gets better: the
         * step ends at the first one. A 429 or 5xx ends it too (the runner retries the step after the
         * provider's retry-after) while the step has done nothing yet; once it has, the CLI's own retries
         * keep the session's progress, so the step ends only after {@link #MID_RUN_RETRIES} of them.
         * No HTTP status (no network) is left to the idle timer, as before.
         */
        private void apiRetry(JsonNode e) {
            int status = e.path("error_status").asInt(0);
            String err = e.path("error").asText("");
            int attempt = e.path("attempt").asInt();
            String code = status == 401 || status == 403 || err.contains("authentication") ? "auth_failed"
                    : status == 429 || err.contains("rate_limit") ? "rate_limited"
                    : status >= 500 || err.equals("server_error") || err.equals("overloaded") ? "provider_error"
                    : "provider_unreachable";
            String detail = "API retry " + attempt + "/" + e.path("max_retries").asInt() + ": "
                    + (status == 0 ? "no HTTP response" : "HTTP " + status) + " (" + err + ")";
            error(code, detail);
            if (code.equals("rate_limited") && e.hasNonNull("retry_delay_ms")) {
                // the CLI's delay is the provider's retry-after (plus jitter) when it sent one
                retryAfterMs = e.get("retry_delay_ms").asLong();
            }
            if (code.equals("auth_failed")) {
                abort(code, detail);
            } else if ((code.equals("rate_limited") || code.equals("provider_error")) && (turns == 0 || attempt >= MID_RUN_RETRIES)) {
                abort(code, detail);
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
            if (m.path("model").asText().equals("<synthetic>")) {
                // the CLI's own error text dressed as a message ("Not logged in", "API Error: …"): no model turn
            } else if (u.isObject()) {
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
            String subtype = e.path("subtype").asText("");
            // num_turns counts the turn --max-turns refused to start: N+1 after error_max_turns with N model calls
            int reported = e.path("num_turns").asInt(turns) - (subtype.equals("error_max_turns") ? 1 : 0);
            turns = Math.max(turns, reported);
            costUsd = e.path("total_cost_usd").asDouble(costUsd);
            for (JsonNode d : e.path("permission_denials")) {
                deniedTools.add(d.path("tool_name").asText("?") + ": " + inputSummary(d.path("tool_input")));
            }
            JsonNode u = e.path("usage");
            if (u.isObject()) {
                tokensIn = Math.max(tokensIn, inputTokens(u));
                tokensOut = Math.max(tokensOut, u.path("output_tokens").asLong());
            }
            if (subtype.equals("error_max_turns") || subtype.equals("error_max_budget_usd")) {
                resultIsError = true;
                error("budget_exceeded", "Claude Code stopped: " + subtype);
            } else if (resultIsError) {
                String detail = finalMessage != null ? finalMessage : subtype;
                String code = statusCode(e.path("api_error_status").asInt(0));
                if (code == null) {
                    code = ErrorText.classify(detail);
                }
                if (code != null || errorCode == null) {
                    error(code, detail);
                    if (code == null) {
                        errorDetail = cut(detail);
                    }
                }
            }
        }

        /** The code of the HTTP status the CLI gave up on, or null (no status, or one that says nothing). */
        private static String statusCode(int status) {
            return status == 401 || status == 403 ? "auth_failed"
                    : status == 429 ? "rate_limited"
                    : status >= 500 ? "provider_error"
                    : null;
        }

        /** What a refused call wanted, short: the file or the command, else the input as JSON. */
        private static String inputSummary(JsonNode in) {
            for (String f : List.of("file_path", "command", "notebook_path", "url", "pattern")) {
                if (in.hasNonNull(f)) {
                    return cut(in.get(f).asText(), 200);
                }
            }
            return cut(in.toString(), 200);
        }

        private static String cut(String s, int max) {
            return s.length() <= max ? s : s.substring(0, max) + "…";
        }

        private static long inputTokens(JsonNode u) {
            return u.path("input_tokens").asLong() + u.path("cache_creation_input_tokens").asLong()
                    + u.path("cache_read_input_tokens").asLong();
        }
    }
}
