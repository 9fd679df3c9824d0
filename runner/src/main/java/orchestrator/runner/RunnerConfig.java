package orchestrator.runner;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.Env;

/**
 * The runner's settings, read once at start.
 *
 * @param concurrency      {@code RUNNER_CONCURRENCY}: jobs this runner runs at once
 * @param envAllowlist     {@code ENV_ALLOWLIST}: the only variables of the runner's environment a step's process inherits
 * @param sensitiveEnvVars {@code SENSITIVE_ENV_VARS} plus {@link #BUILT_IN_SENSITIVE}: names whose values are redacted from logs
 * @param maxIdleSec       {@code RUNNER_MAX_IDLE_SEC}: default idle-output timeout of a step, 0 = off
 * @param drainGraceSec    {@code RUNNER_DRAIN_GRACE_SEC}: how long a draining runner lets running jobs finish
 * @param maxDailyCostUsd  {@code MAX_DAILY_COST_USD}: a project's real-CLI spending per UTC day, 0 = unlimited
 * @param maxDailyApiCalls {@code MAX_DAILY_API_CALLS}: a project's real-CLI steps per UTC day, 0 = unlimited
 * @param sandboxWrapper   {@code SANDBOX_WRAPPER} split into words: a command prefix put in front of every
 *                         agent process (bwrap, firejail, systemd-run …), with the argv placeholders; empty = none
 */
public record RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec,
                           int drainGraceSec, double maxDailyCostUsd, long maxDailyApiCalls, List<String> sandboxWrapper) {
    public static final int DEFAULT_CONCURRENCY = 2;
    public static final List<String> DEFAULT_ENV_ALLOWLIST =
            List.of("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME", "TMPDIR");
    /** Always treated as secrets, whatever SENSITIVE_ENV_VARS says: an operator should not have to remember them. */
    public static final Set<String> BUILT_IN_SENSITIVE = Set.of("WEBHOOK_TOKEN", "WEBHOOK_TOKENS", "METRICS_TOKEN",
            "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GITHUB_TOKEN", "GH_TOKEN",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SLACK_TOKEN");
    public static final int DEFAULT_MAX_IDLE_SEC = 0;
    public static final int DEFAULT_DRAIN_GRACE_SEC = 60;

    public RunnerConfig {
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be at least 1");
        }
        envAllowlist = List.copyOf(envAllowlist);
        sensitiveEnvVars = Set.copyOf(sensitiveEnvVars);
        Objects.checkIndex(maxIdleSec, 86_401);
        Objects.checkIndex(drainGraceSec, 86_401);
        if (!(maxDailyCostUsd >= 0) || maxDailyApiCalls < 0) {
            throw new IllegalArgumentException("daily budgets must not be negative");
        }
        sandboxWrapper = List.copyOf(sandboxWrapper);
    }

    /** The settings without daily budgets or sandbox wrapper. */
    public RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec, int drainGraceSec) {
        this(concurrency, envAllowlist, sensitiveEnvVars, maxIdleSec, drainGraceSec, 0, 0, List.of());
    }

    public static RunnerConfig from(Env env) {
        int concurrency = env.integer("RUNNER_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 256);
        List<String> allow = env.get("ENV_ALLOWLIST") == null ? DEFAULT_ENV_ALLOWLIST : env.list("ENV_ALLOWLIST");
        for (String name : allow) {
            if (!name.matches("^[A-Za-z_][A-Za-z0-9_]*$")) {
                throw new ConfigException("ENV_ALLOWLIST", "'" + name + "' is not a variable name");
            }
        }
        Set<String> sensitive = new LinkedHashSet<>(BUILT_IN_SENSITIVE);
        sensitive.addAll(env.list("SENSITIVE_ENV_VARS"));
        int idle = env.integer("RUNNER_MAX_IDLE_SEC", DEFAULT_MAX_IDLE_SEC, 0, 86_400);
        int grace = env.integer("RUNNER_DRAIN_GRACE_SEC", DEFAULT_DRAIN_GRACE_SEC, 0, 86_400);
        double dailyCost = env.decimal("MAX_DAILY_COST_USD", 0, 0, 1_000_000);
        long dailyCalls = env.longValue("MAX_DAILY_API_CALLS", 0, 0, 100_000_000);
        List<String> wrapper = sandboxWrapper(env.get("SANDBOX_WRAPPER"), env.get("PATH") != null ? env.get("PATH") : System.getenv("PATH"));
        return new RunnerConfig(concurrency, allow, sensitive, idle, grace, dailyCost, dailyCalls, wrapper);
    }

    /**
     * Splits {@code SANDBOX_WRAPPER} into words and checks that its first word can be run: an absolute
     * path to an executable, or a name found on {@code path}. Failing at start beats failing every step.
     */
    static List<String> sandboxWrapper(String value, String path) {
        if (value == null || value.isBlank()) {
            return List.of();
        }
        List<String> words;
        try {
            words = ShellWords.split(value);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("SANDBOX_WRAPPER", e.getMessage());
        }
        if (words.isEmpty()) {
            return List.of();
        }
        String first = words.get(0);
        if (first.contains("/")) {
            java.nio.file.Path p = java.nio.file.Path.of(first);
            if (!p.isAbsolute() || !java.nio.file.Files.isExecutable(p) || java.nio.file.Files.isDirectory(p)) {
                throw new ConfigException("SANDBOX_WRAPPER", "'" + first + "' is not an absolute path to an executable");
            }
            return words;
        }
        for (String dir : (path == null ? "" : path).split(":")) {
            if (!dir.isEmpty()) {
                java.nio.file.Path p = java.nio.file.Path.of(dir, first);
                if (java.nio.file.Files.isExecutable(p) && !java.nio.file.Files.isDirectory(p)) {
                    return words;
                }
            }
        }
        throw new ConfigException("SANDBOX_WRAPPER", "'" + first + "' is not an executable on PATH");
    }
}
