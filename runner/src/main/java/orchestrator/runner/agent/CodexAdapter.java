package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import orchestrator.core.agent.AgentDefinition;

/**
 * Codex CLI: {@code codex exec --json --skip-git-repo-check --sandbox workspace-write <args> -}, the
 * prompt on stdin ({@code -}). The operator's args may choose another sandbox ({@code -s},
 * {@code --sandbox}, {@code --dangerously-bypass-approvals-and-sandbox}); then ours is left out.
 * Codex has no allowed-tools or max-turns flag: its sandbox is the tool policy. A continued session
 * is {@code codex exec <same options> resume <session id> -}: {@code resume} is a subcommand of
 * {@code exec} with no {@code --sandbox} of its own, so every option goes before it (clap applies the
 * parent's options to it; checked with 0.169.0: {@code --json} and the prompt on stdin still work).
 *
 * <p>Output contract ({@code --json}, JSONL): {@code thread.started {thread_id}}, {@code turn.started},
 * {@code item.started/updated/completed {item: {type: agent_message|reasoning|command_execution|
 * file_change|error, text|message}}}, {@code turn.completed {usage: {input_tokens,
 * cached_input_tokens, output_tokens}}}, {@code turn.failed {error: {message}}} and top-level
 * {@code error {message}}. No cost is reported. Observed with 0.169.0 and no network (with or
 * without a key): five "Reconnecting... n/5" error events, then "Reconnecting... waiting for
 * network" about every 10 s forever; that last message makes the parser abort the step at once
 * with {@code provider_unreachable}.
 *
 * <p>Observed with 0.169.0 against an OpenAI stand-in ({@code runner/src/test/.../OpenAiStandIn}):
 * {@code turn.completed} comes once per prompt and sums the usage of all its model calls (a tool call
 * and the answer after it are one turn), and a resumed session's {@code turn.completed} reports the
 * whole thread's usage so far, earlier runs included. Every HTTP error is retried five times
 * ("Reconnecting... n/5 (…)" error events; a provider's {@code request_max_retries} and
 * {@code stream_max_retries} change that): a 401 shows "unexpected status 401 Unauthorized", which
 * aborts the step {@code auth_failed} at its first retry (a rejected key stays rejected); a 429 ends
 * "exceeded retry limit, last status: 429 Too Many Requests" after codex itself honoured the
 * provider's {@code retry-after} (never printed, so the runner's retry waits retry_backoff_sec);
 * a 500 is reported as "We’re currently experiencing high demand, …" ({@code provider_error}), a
 * 503 as "unexpected status 503 Service Unavailable: …".
 */
final class CodexAdapter implements AgentAdapter {
    static final CodexAdapter INSTANCE = new CodexAdapter();
    static final String DEFAULT_SANDBOX = "workspace-write";

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = new ArrayList<>(List.of(def.binary(), "exec", "--json", "--skip-git-repo-check"));
        boolean ownSandbox = def.args().stream().anyMatch(a -> a.equals("-s") || a.startsWith("--sandbox")
                || a.startsWith("--dangerously-bypass-approvals-and-sandbox"));
        if (!ownSandbox) {
            head.addAll(List.of("--sandbox", DEFAULT_SANDBOX));
        }
        List<String> tail = opts.resumeSession() == null ? List.of("-") : List.of("resume", opts.resumeSession(), "-");
        return new Invocation(AgentAdapter.argv(head, def, tail), def.env(), ctx.promptFile());
    }

    @Override
    public boolean resumesSessions() {
        return true;
    }

    /**
     * Codex writes a session's rollout (every prompt, answer and command output, 41 KB for a one-line answer
     * with 0.169.0) to {@code $CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl}
     * ({@code CODEX_HOME} defaulting to {@code ~/.codex}) and never deletes it. The job's own are found by
     * the step's thread id, in the day folders from the day before the step's start to the day after now
     * (codex names the day in its local time, which is within a day of UTC), and go with the workspace.
     */
    @Override
    public List<Path> leftOutside(Path workspace, Map<String, String> env, String sessionId, java.time.Instant started)
            throws java.io.IOException {
        if (sessionId == null || !SESSION_ID.matcher(sessionId).matches()) {
            return List.of();
        }
        Path sessions = codexHome(env).resolve("sessions");
        // a local date anywhere is within a day of the UTC date: these days hold the folder codex chose
        java.time.LocalDate from = started.atZone(java.time.ZoneOffset.UTC).toLocalDate().minusDays(1);
        java.time.LocalDate to = java.time.LocalDate.now(java.time.ZoneOffset.UTC).plusDays(1);
        List<java.time.LocalDate> days = from.datesUntil(to.plusDays(1)).toList();
        List<Path> found = new ArrayList<>();
        String suffix = "-" + sessionId + ".jsonl";
        for (java.time.LocalDate d : days) {
            Path dir = sessions.resolve(String.format(Locale.ROOT, "%04d/%02d/%02d", d.getYear(), d.getMonthValue(), d.getDayOfMonth()));
            if (!java.nio.file.Files.isDirectory(dir)) {
                continue;
            }
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir)) {
                files.filter(f -> f.getFileName().toString().startsWith("rollout-") && f.getFileName().toString().endsWith(suffix))
                        .forEach(found::add);
            }
        }
        return found;
    }

    /** A thread id as codex prints it (a UUID): nothing else is matched against file names. */
    private static final java.util.regex.Pattern SESSION_ID = java.util.regex.Pattern.compile("[0-9a-fA-F-]{16,64}");

    /** Where codex keeps its state: {@code CODEX_HOME}, else {@code ~/.codex}. */
    static Path codexHome(Map<String, String> env) {
        String dir = env.get("CODEX_HOME");
        return dir == null || dir.isBlank() ? AgentAdapter.home(env).resolve(".codex") : Path.of(dir);
    }

    /** A resumed thread's {@code turn.completed} counts the whole thread (pinned by CodexStandInTest). */
    @Override
    public boolean resumedUsageIsCumulative() {
        return true;
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
        @Override
        protected void event(JsonNode e) {
            switch (e.path("type").asText()) {
                case "thread.started" -> sessionId = text(e, "thread_id");
                case "item.completed" -> {
                    JsonNode item = e.path("item");
                    String type = item.path("type").asText();
                    if (type.equals("agent_message")) {
                        finalMessage = item.path("text").asText();
                    } else if (type.equals("error")) {
                        error(classify(item.path("message").asText()), item.path("message").asText());
                    }
                }
                case "turn.completed" -> {
                    turns++;
                    JsonNode u = e.path("usage");
                    tokensIn += u.path("input_tokens").asLong();
                    tokensOut += u.path("output_tokens").asLong();
                    resultSeen = true;
                }
                case "turn.failed" -> {
                    resultSeen = true;
                    resultIsError = true;
                    String msg = e.path("error").path("message").asText("turn failed");
                    error(classify(msg), msg);
                    if (errorDetail == null) {
                        errorDetail = cut(msg);
                    }
                }
                case "error" -> {
                    String msg = e.path("message").asText();
                    String code = classify(msg);
                    error(code, msg);
                    if (msg.contains("waiting for network")) {
                        abort("provider_unreachable", "codex cannot reach its provider: " + msg);
                    } else if ("auth_failed".equals(code)) {
                        abort(code, "codex's provider refused its credentials: " + msg);
                    }
                }
                default -> {
                }
            }
        }

        /** {@link ErrorText#classify}, plus the words codex puts in place of an HTTP 500's own message. */
        static String classify(String msg) {
            String code = ErrorText.classify(msg);
            return code == null && msg.contains("experiencing high demand") ? "provider_error" : code;
        }
    }
}
