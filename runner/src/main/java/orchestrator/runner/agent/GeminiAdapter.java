package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.agent.AgentDefinition;

/**
 * Gemini CLI: {@code gemini --output-format stream-json --skip-trust -p <PROMPT_SUFFIX>
 * [--approval-mode auto_edit] [--resume <session>] <args> [--allowed-tools a,b]}, the prompt on stdin
 * ({@code -p} is appended to stdin, so the argv stays small). {@code --skip-trust}: a job's workspace
 * is never a trusted folder, and without it headless gemini exits 55 at once. {@code --approval-mode
 * auto_edit}: in the default mode a headless gemini has no edit tools at all (write_file is "not
 * found"), so a coding job could not edit its workspace, a throwaway clone; auto_edit registers
 * write_file and replace, not the shell. Left out when the operator's args choose a mode ({@link
 * #OPERATOR_APPROVAL}). {@code --allowed-tools} is deprecated but
 * still honoured; it is an array option with {@code nargs: 1} and a comma-splitting coerce, so the
 * tools go as ONE comma-separated value: {@code --allowed-tools a b} makes {@code b} a positional
 * prompt, which gemini refuses next to {@code -p} (exit 1 and its help). A listed tool runs without
 * confirmation; an unlisted one that needs confirmation is "not found" headless (and a listed shell
 * command with a redirection still needs a confirmation it cannot get). {@code --resume <uuid>} continues a session headless; sessions live under
 * {@code ~/.gemini/tmp/<workspace folder name>/chats}, so the same HOME and workspace are needed. No
 * max-turns flag: {@code model.maxSessionTurns} exists only in settings files; the runner counts the
 * turns itself (one per model response, as gemini counts them) and stops the step over the budget.
 *
 * <p>Output contract (stream-json, JSONL, 0.61.0): {@code init {session_id, model}}, {@code message
 * {role, content, delta}} (assistant text comes in deltas), {@code tool_use {tool_name, tool_id}},
 * {@code tool_result {tool_id, status, error: {type, message}}}, {@code error {severity, message}},
 * and a final {@code result {status: success|error, error: {type, message}, stats: {input_tokens,
 * output_tokens, total_tokens, tool_calls}}}; usage appears only in that final result. Exit codes
 * (FatalError subclasses): 41 auth, 42 input (e.g. an unknown session to resume), 44 sandbox, 52
 * config, 53 turn limit, 54 tool execution, 55 untrusted workspace, 130 cancelled.
 *
 * <p>The API's failures reach stderr only, as retry reports of its {@code retryWithBackoff}: {@code
 * Attempt N failed with status 429. Retrying with backoff... _ApiError: {…}} (a 429 without RetryInfo
 * or a 5xx), {@code Attempt N failed: <message>\nSuggested retry after 3s.. Retrying after 5690ms...}
 * (a 429 whose RetryInfo gives {@code retryDelay}; the {@code retry-after} header is ignored) and
 * {@code Attempt N failed. Retrying with backoff... Error: … fetch failed} (no connection). Gemini
 * retries these for minutes with growing pauses, so the parser ends the step at the first 429 or
 * 5xx before any turn was answered (the runner retries it per {@code max_retries}, after the server's
 * delay), at the {@value #MID_RUN_RETRIES}rd once one was (a new attempt would lose the session), and after
 * {@value #UNREACHABLE_ABORT} connection failures. A 401/403 is not retried: the CLI ends with an
 * error result at once.
 */
final class GeminiAdapter implements AgentAdapter {
    static final GeminiAdapter INSTANCE = new GeminiAdapter();
    static final String PROMPT_SUFFIX = "Carry out the task described above.";
    /**
     * Failed connections before the step is ended {@code provider_unreachable}. Gemini waits 5 s (±30 %)
     * before its second attempt and 10 s before its third, silent meanwhile, and keeps going for minutes:
     * two failures 5 s apart say the network is down, and come well before a 15 s idle timer.
     */
    static final int UNREACHABLE_ABORT = 2;
    /** 429/5xx reports after the first answered turn before the step is ended (the CLI's third try fails). */
    static final int MID_RUN_RETRIES = 3;
    /** Flags by which the operator chose an approval mode of their own: then the adapter adds none. */
    static final java.util.Set<String> OPERATOR_APPROVAL = java.util.Set.of("--approval-mode", "--yolo", "-y");

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = new ArrayList<>(List.of(def.binary(), "--output-format", "stream-json", "--skip-trust", "-p", PROMPT_SUFFIX));
        if (def.args().stream().noneMatch(OPERATOR_APPROVAL::contains)) {
            head.addAll(List.of("--approval-mode", "auto_edit"));
        }
        if (opts.resumeSession() != null) {
            head.addAll(List.of("--resume", opts.resumeSession()));
        }
        List<String> tail = new ArrayList<>();
        if (opts.allowedTools() != null && !opts.allowedTools().isEmpty()) {
            tail.add("--allowed-tools");
            tail.add(String.join(",", opts.allowedTools()));
        }
        return new Invocation(AgentAdapter.argv(head, def, tail), def.env(), ctx.promptFile());
    }

    @Override
    public boolean structured() {
        return true;
    }

    /**
     * What of the user's {@code ~/.gemini} a job's own gemini home does not share: the per-project state
     * that every start of gemini 0.61 rewrites under one lock, and that grows by a folder per workspace.
     */
    static final java.util.Set<String> PER_PROJECT = java.util.Set.of("tmp", "history", "projects.json", "projects.json.lock");

    /**
     * Each job its own gemini home ({@code GEMINI_CLI_HOME}, which gemini reads instead of the user's
     * home for everything under {@code ~/.gemini}). Every start registers its workspace in
     * {@code ~/.gemini/projects.json} under a proper-lockfile lock, twice per process, and a new
     * workspace makes it scan every project folder there first, with the lock held; the lock's retries
     * back off exponentially from 100 ms, so two runs at once in one home sometimes waited 12.7 s for
     * it, or past a 20 s idle timeout, silent meanwhile (before this, {@code GeminiStandInTest}'s batch
     * of 20 runs two at a time had a run killed by its idle timeout in 3 of 13 batches; the folders and
     * the scan grow with every job). In the job's home,
     * {@code .gemini} links every entry of the user's {@code ~/.gemini} (settings, credentials,
     * {@code GEMINI.md}, extensions, commands) except {@link #PER_PROJECT}, which are the job's own:
     * its project registry, its chats (a continued job resumes its session there) and its logs, deleted
     * with its workspace. {@code ~/.agents} is linked too. A {@code GEMINI_CLI_HOME} the operator set wins.
     */
    @Override
    public Map<String, String> jobState(Path dir, Map<String, String> env) throws IOException {
        if (env.containsKey("GEMINI_CLI_HOME")) {
            return Map.of();
        }
        String userHome = env.getOrDefault("HOME", System.getProperty("user.home"));
        Path home = AgentAdapter.stateFolder(dir).resolve("gemini-home");
        Path own = Files.createDirectories(home.resolve(".gemini"));
        Path users = Path.of(userHome).resolve(".gemini");
        if (Files.isDirectory(users)) {
            try (java.util.stream.Stream<Path> entries = Files.list(users)) {
                for (Path e : (Iterable<Path>) entries::iterator) {
                    if (!PER_PROJECT.contains(e.getFileName().toString())) {
                        link(own.resolve(e.getFileName().toString()), e);
                    }
                }
            }
        }
        Path agents = Path.of(userHome).resolve(".agents");
        if (Files.isDirectory(agents)) {
            link(home.resolve(".agents"), agents);
        }
        return Map.of("GEMINI_CLI_HOME", home.toString());
    }

    /** A link at {@code at} to {@code target}, unless something is there already (an earlier step's link, or gemini's own file). */
    private static void link(Path at, Path target) throws IOException {
        if (!Files.exists(at, LinkOption.NOFOLLOW_LINKS)) {
            Files.createSymbolicLink(at, target);
        }
    }

    @Override
    public boolean resumesSessions() {
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
        /** The start of one of retryWithBackoff's reports. */
        private static final Pattern ATTEMPT = Pattern.compile("^Attempt \\d+ failed");
        /** Its HTTP status, when it names one ("with status 429", "with 429 error", "with 5xx error"). */
        private static final Pattern STATUS = Pattern.compile("^Attempt \\d+ failed with (?:status )?(\\d{3}|5xx)\\b");
        /** The server's RetryInfo delay, as the CLI shows it: "Suggested retry after 3s." (or "1.5s"). */
        private static final Pattern SUGGESTED = Pattern.compile("Suggested retry after (\\d+(?:\\.\\d+)?)s");
        /** Tool results that mean the CLI refused the call, not that the tool failed doing it. */
        private static final List<String> DENIED_TYPES = List.of("tool_not_registered", "policy_violation");

        private final StringBuilder reply = new StringBuilder();
        /** Between a model response's first output and the next tool result: one turn. */
        private boolean inResponse;
        private final Map<String, String> toolNames = new HashMap<>();
        /** The retry report being read: its first line may be continued by "Suggested retry after …". */
        private String retry;
        private int unreachable;
        private int midRunFailures;

        @Override
        protected void event(JsonNode e) {
            switch (e.path("type").asText()) {
                case "init" -> sessionId = text(e, "session_id");
                case "message" -> {
                    if (!e.path("role").asText().equals("assistant")) {
                        return;
                    }
                    startResponse();
                    if (!e.path("delta").asBoolean(false)) {
                        reply.setLength(0);
                    }
                    reply.append(e.path("content").asText());
                    finalMessage = reply.toString();
                }
                case "tool_use" -> {
                    startResponse();
                    toolNames.put(e.path("tool_id").asText(), e.path("tool_name").asText("?"));
                }
                case "tool_result" -> {
                    inResponse = false;
                    toolResult(e);
                }
                case "error" -> {
                    String msg = e.path("message").asText();
                    error(ErrorText.classify(msg), msg);
                }
                case "result" -> result(e);
                default -> {
                }
            }
        }

        /**
         * Gemini's own turn count ({@code model.maxSessionTurns}) is one per model request: the prompt,
         * then each round of tool results. A response shows as text deltas and/or tool calls, so a turn
         * begins at the first of them after the previous tool result.
         */
        private void startResponse() {
            if (!inResponse) {
                inResponse = true;
                turns++;
                reply.setLength(0);
            }
        }

        private void toolResult(JsonNode e) {
            if (!e.path("status").asText().equals("error")) {
                return;
            }
            String type = e.path("error").path("type").asText("");
            String msg = e.path("error").path("message").asText(e.path("output").asText(""));
            // "requires user confirmation, which is not supported in non-interactive mode": the policy
            // asks, and headless nobody can answer (a listed shell tool with a redirection, for one)
            if (DENIED_TYPES.contains(type) || msg.contains("requires user confirmation")) {
                deniedTools.add(toolNames.getOrDefault(e.path("tool_id").asText(), "?") + ": " + cut(msg));
            }
        }

        private void result(JsonNode e) {
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

        @Override
        protected void text(String line) {
            error(ErrorText.classify(line), line);
            Matcher suggested = SUGGESTED.matcher(line);
            if (suggested.find()) {
                retryAfterMs = Math.round(Double.parseDouble(suggested.group(1)) * 1000);
            }
            if (ATTEMPT.matcher(line).find()) {
                retry = line;
            } else if (retry != null) {
                retry = retry + " " + line;
            }
            // every report ends with what gemini does next: "Retrying …" or "Max attempts reached"
            if (retry != null && (line.contains("Retrying") || line.contains("Max attempts reached"))) {
                retryFailed(retry);
                retry = null;
            }
        }

        /** One failed API call that gemini is about to retry by itself, minutes on end if let. */
        private void retryFailed(String report) {
            String code = retryCause(report);
            if (code == null) {
                return;
            }
            error(code, report);
            // once a turn was answered, gemini's own retries keep the session's progress, which a new
            // attempt of the step would lose: only a provider that keeps failing ends the step then
            if ((code.equals("rate_limited") || code.equals("provider_error")) && turns > 0 && ++midRunFailures < MID_RUN_RETRIES) {
                return;
            }
            switch (code) {
                case "rate_limited" -> abort(code, "gemini's provider is rate limiting it (HTTP 429"
                        + (retryAfterMs == null ? "" : ", retry after " + retryAfterMs + " ms") + "): " + report);
                case "provider_error" -> abort(code, "gemini's provider failed (HTTP 5xx): " + report);
                case "auth_failed" -> abort(code, "gemini's provider refused its credentials: " + report);
                case "provider_unreachable" -> {
                    if (++unreachable >= UNREACHABLE_ABORT) {
                        abort(code, "gemini cannot reach its provider (" + unreachable + " failed attempts): " + report);
                    }
                }
                default -> {
                }
            }
        }

        private static String retryCause(String report) {
            Matcher m = STATUS.matcher(report);
            if (m.find()) {
                String status = m.group(1);
                if (status.equals("429")) {
                    return "rate_limited";
                }
                if (status.startsWith("5")) {
                    return "provider_error";
                }
                if (status.equals("401") || status.equals("403")) {
                    return "auth_failed";
                }
            }
            String t = report.toLowerCase(Locale.ROOT);
            // the RetryInfo form names no status: only a quota error carries "Suggested retry after"
            if (t.contains("suggested retry after") || t.contains("resource has been exhausted")) {
                return "rate_limited";
            }
            return ErrorText.classify(report);
        }
    }
}
