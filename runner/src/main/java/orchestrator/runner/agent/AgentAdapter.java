package orchestrator.runner.agent;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import orchestrator.core.agent.AgentDefinition;

/**
 * Knows one kind of agent: how to start it headless (argv, prompt on stdin or in a file) and how to
 * read what it prints. One instance per type, stateless; {@link #parser()} is fresh per attempt.
 */
public interface AgentAdapter {

    /** The command line for one step; placeholders in it are substituted by the caller. */
    Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts);

    OutputParser parser();

    /**
     * True for a CLI whose successful run ends with a structured final result: exit 0 without one
     * (or without any parseable event) is a {@code parse_error}, not a success.
     */
    boolean structured();

    /** What a nonzero exit status means for this CLI when its output said nothing recognisable, or null. */
    default String exitCodeMeaning(int exitCode) {
        return null;
    }

    /**
     * The smallest address-space rlimit (MB) the CLI can start under, or 0. It raises the runner's
     * default {@code memory_mb}, never a limit the job set itself.
     */
    default long minAddressSpaceMb() {
        return 0;
    }

    /**
     * True when {@link #invocation} honours {@link StepOptions#resumeSession()}: the CLI continues its own
     * earlier session, so a continued job need not repeat the earlier conversation in the prompt.
     */
    default boolean resumesSessions() {
        return false;
    }

    /**
     * True when, after resuming a session, the CLI reports the tokens of the whole session, its earlier
     * runs included (codex's {@code turn.completed}), rather than of this run alone.
     */
    default boolean resumedUsageIsCumulative() {
        return false;
    }

    /**
     * Makes the CLI keep its own state of the job in {@code dir} (a folder of the job's own that lasts as
     * long as its workspace, {@code Workspaces.agentStateDir}) instead of in files every job on the host
     * shares, and returns the variables that point the CLI there; none by default. {@code env} is the
     * step's environment so far: a variable the operator set there (the agent definition's {@code env},
     * {@code ENV_ALLOWLIST}) wins, and then nothing is made. Create {@code dir} with {@link #stateFolder}.
     *
     * @throws IOException the folder could not be prepared: the step fails {@code agent_start_failed}
     */
    default Map<String, String> jobState(Path dir, Map<String, String> env) throws IOException {
        return Map.of();
    }

    /**
     * What this CLI keeps of the job outside the job's own folders, in its user's home, that no other job
     * uses: its transcript of the step, which holds the prompts and what the agent read. The runner notes
     * each path before the step ({@code sessionId} null) and after it (the step's session, or null), and
     * deletes them with the job's workspace ({@code Workspaces.recordOutside}). {@code workspace} is the
     * step's working directory, {@code env} its environment, {@code started} when the step began. None by default.
     */
    default List<Path> leftOutside(Path workspace, Map<String, String> env, String sessionId, java.time.Instant started)
            throws IOException {
        return List.of();
    }

    /** The user's home the CLI sees: the step's {@code HOME}, else the runner's. */
    static Path home(Map<String, String> env) {
        String h = env.get("HOME");
        return Path.of(h == null || h.isBlank() ? System.getProperty("user.home") : h);
    }

    /** {@code dir}, created when missing, readable by the runner's user only. */
    static Path stateFolder(Path dir) throws IOException {
        if (java.nio.file.Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return dir;
        }
        java.nio.file.Files.createDirectories(dir.getParent());
        return java.nio.file.Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
    }

    /** True for the CLI agents: they call a paid API, so they count against the daily budget. */
    default boolean callsApi() {
        return true;
    }

    static AgentAdapter forType(String type) {
        return switch (type) {
            case "claude" -> ClaudeCodeAdapter.INSTANCE;
            case "codex" -> CodexAdapter.INSTANCE;
            case "opencode" -> OpenCodeAdapter.INSTANCE;
            case "gemini" -> GeminiAdapter.INSTANCE;
            case "aider" -> AiderAdapter.INSTANCE;
            case "command" -> CommandAdapter.INSTANCE;
            default -> throw new IllegalArgumentException("agent type " + type + " runs no process");
        };
    }

    /** The adapter's own variables for its CLI, then the agent definition's {@code env}, which wins. */
    static java.util.Map<String, String> env(java.util.Map<String, String> adapterDefaults, AgentDefinition def) {
        java.util.Map<String, String> env = new java.util.HashMap<>(adapterDefaults);
        env.putAll(def.env());
        return env;
    }

    /** {@code head} then the agent definition's extra args then {@code tail}: variadic options go last. */
    static List<String> argv(List<String> head, AgentDefinition def, List<String> tail) {
        List<String> argv = new ArrayList<>(head);
        argv.addAll(def.args());
        argv.addAll(tail);
        return argv;
    }
}
