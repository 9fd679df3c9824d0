package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import orchestrator.core.agent.AgentDefinition;

/**
 * OpenCode: {@code opencode run --format json --print-logs --log-level ERROR --title <job>/<step>
 * <args> [--session <id>]}, the prompt on stdin (opencode run appends piped stdin to its message). It
 * has no allowed-tools or max-turns flag; in {@code run} mode a permission request is auto-rejected,
 * never waited on. {@code --title}: a session without a title makes opencode ask its small model for
 * one in a separate call whose usage it reports nowhere (no step_finish carries it), so those tokens
 * escaped the job's budget; named by us, the session needs no such call. {@code --session <id>}
 * continues an earlier session (the model gets its messages again).
 *
 * <p>Output contract ({@code --format json}, JSONL, each with {@code type}, {@code timestamp},
 * {@code sessionID}): {@code step_start}, {@code text {part: {text}}}, {@code tool_use},
 * {@code reasoning}, {@code step_finish {part: {reason, cost, tokens: {input, output, reasoning,
 * cache: {read, write}}}}} (one per model call; cost from the model's price in the provider config)
 * and {@code error {error: {name, data: {message, statusCode, responseHeaders}}}}. The run ends after
 * a step_finish whose reason is {@code stop}. Observed with 1.18.33 and no network: nothing at all
 * on stdout while it retries its provider forever; that is why the logs go to stderr at ERROR
 * level: "Cannot connect to API" lines tell the cause, and after {@value #UNREACHABLE_ABORT} of
 * them the step is aborted {@code provider_unreachable} instead of waiting for a timer. Against an
 * OpenAI stand-in: a 401 is one {@code APIError} event with statusCode 401 and exit 1; a 429 is
 * retried by opencode itself after the provider's {@code retry-after}, then given up with an
 * APIError whose responseHeaders hold that {@code retry-after} (the runner's retry waits as long);
 * a 5xx is retried forever with a growing pause, each try a {@code "stream error" … AI_APICallError}
 * line, so {@value #UNREACHABLE_ABORT} of those abort the step {@code provider_error}.
 */
final class OpenCodeAdapter implements AgentAdapter {
    static final OpenCodeAdapter INSTANCE = new OpenCodeAdapter();
    static final int UNREACHABLE_ABORT = 3;
    /**
     * Without network opencode fetches https://models.dev at every start, fails, logs "Failed to fetch
     * models.dev … Unable to connect" and goes on with its bundled list: a wasted request, and a line
     * that read as an unreachable provider. The variable turns the fetch off (an operator can still
     * set it to 0 in the agent's env).
     */
    static final Map<String, String> ENV = Map.of("OPENCODE_DISABLE_MODELS_FETCH", "1");

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = List.of(def.binary(), "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
                "--title", "{job_id}/{step_id}");
        List<String> tail = opts.resumeSession() == null ? List.of() : List.of("--session", opts.resumeSession());
        Map<String, String> env = AgentAdapter.env(ENV, def);
        return new Invocation(AgentAdapter.argv(head, def, tail), env, ctx.promptFile());
    }

    /**
     * Each job its own session database ({@code OPENCODE_DB}, absolute). By default every opencode run of
     * the user shares {@code ~/.local/share/opencode/opencode.db}; opencode 1.18.33 opens it with
     * {@code PRAGMA journal_mode = WAL} before it sets its 5 s {@code busy_timeout}, and writes in deferred
     * transactions, so a run that meets another process's write lock dies at once: "Error: Unexpected
     * error … database is locked", exit 1 (seen in CI with two runs at a time, one of 16 runs; and a
     * first start on a host raced the other's migrations, 3 in 18). With one database per job no two
     * runs share one; the job's later steps and a continued job find their sessions in it, and it goes
     * with the job's workspace. Providers, credentials ({@code auth.json}) and config stay opencode's own.
     */
    @Override
    public Map<String, String> jobState(Path dir, Map<String, String> env) throws IOException {
        if (env.containsKey("OPENCODE_DB")) {
            return Map.of();
        }
        return Map.of("OPENCODE_DB", AgentAdapter.stateFolder(dir).resolve("opencode.db").toString());
    }

    @Override
    public boolean resumesSessions() {
        return true;
    }

    /**
     * OpenCode is a Bun binary; JavaScriptCore reserves far more virtual memory than it touches
     * (observed with 1.18.33: VmPeak 135 GB, VmSize 74 GB, for 0.5 GB resident). Under the runner's
     * default 4 GB address-space rlimit most runs still adapt, but some die at start or mid-run
     * ("MemoryExhaustion", SIGILL, "Out of memory"). Above its own peak reservation it never hits the
     * limit. As for gemini, a real memory cap needs a cgroup ({@code SANDBOX_WRAPPER}).
     */
    @Override
    public long minAddressSpaceMb() {
        return 256L * 1024;
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
        private int failing;

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
                    JsonNode data = err.path("data");
                    String name = err.path("name").asText("");
                    String msg = data.path("message").asText(name);
                    resultIsError = true;
                    String code = name.equals("ProviderAuthError") ? "auth_failed" : byStatus(data.path("statusCode").asInt());
                    if (code == null) {
                        code = ErrorText.classify(name + " " + msg);
                    }
                    error(code, name + ": " + msg);
                    if (code == null) {
                        errorDetail = cut(name + ": " + msg);
                    }
                    Long after = retryAfterMs(data.path("responseHeaders"));
                    if (after != null) {
                        retryAfterMs = after;
                    }
                }
                default -> {
                }
            }
        }

        @Override
        protected void text(String line) {
            if (line.contains("Failed to fetch models.dev")) {
                // opencode's model catalogue, not its provider: it goes on with its bundled list
                return;
            }
            String code = ErrorText.classify(line);
            if (code == null && line.contains("message=\"stream error\"") && line.contains("AI_APICallError")) {
                // the provider answered with an error opencode shows no status for (a 500's own message)
                code = "provider_error";
            }
            if (code == null) {
                return;
            }
            error(code, line);
            if (code.equals("auth_failed")) {
                abort(code, "opencode's provider refused its credentials: " + line);
            } else if (code.equals("provider_unreachable") && ++unreachable >= UNREACHABLE_ABORT) {
                abort(code, "opencode cannot reach its provider (" + unreachable + " connection errors): " + line);
            } else if (code.equals("provider_error") && ++failing >= UNREACHABLE_ABORT) {
                abort(code, "opencode's provider keeps failing (" + failing + " server errors, retried without end): " + line);
            }
        }

        /** The code an HTTP status means, or null for one that says nothing by itself. */
        static String byStatus(int status) {
            if (status == 401 || status == 403) {
                return "auth_failed";
            }
            if (status == 429) {
                return "rate_limited";
            }
            return status >= 500 && status <= 599 ? "provider_error" : null;
        }

        /** {@code retry-after} (seconds, or {@code retry-after-ms}) from the response headers opencode echoes, or null. */
        static Long retryAfterMs(JsonNode headers) {
            JsonNode ms = headers.path("retry-after-ms");
            if (ms.isTextual() && ms.asText().matches("\\d+(\\.\\d+)?")) {
                return (long) Double.parseDouble(ms.asText());
            }
            JsonNode s = headers.path("retry-after");
            if (s.isTextual() && s.asText().matches("\\d+(\\.\\d+)?")) {
                return (long) (Double.parseDouble(s.asText()) * 1000);
            }
            return null;
        }
    }
}
