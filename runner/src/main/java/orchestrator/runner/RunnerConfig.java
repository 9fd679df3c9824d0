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
 * @param policy           {@code ALLOWED_BINARIES}, {@code SANDBOX}, {@code NETWORK_POLICY}: what steps may run and how
 * @param retention        {@code ARTIFACTS_TTL_SEC}, {@code WORKSPACES_TTL_SEC}: when a final job's folders are deleted
 * @param callbacks        {@code CALLBACK_HMAC_SECRET}, {@code CALLBACK_MAX_ATTEMPTS}, {@code CALLBACK_ALLOW_PRIVATE}
 */
public record RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec,
                           int drainGraceSec, double maxDailyCostUsd, long maxDailyApiCalls, List<String> sandboxWrapper,
                           StepPolicy policy, Retention retention, Callbacks callbacks) {
    public static final int DEFAULT_CONCURRENCY = 2;
    public static final List<String> DEFAULT_ENV_ALLOWLIST =
            List.of("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME", "TMPDIR");
    /** Always treated as secrets, whatever SENSITIVE_ENV_VARS says: an operator should not have to remember them. */
    public static final Set<String> BUILT_IN_SENSITIVE = Set.of("WEBHOOK_TOKEN", "WEBHOOK_TOKENS", "METRICS_TOKEN",
            "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GITHUB_TOKEN", "GH_TOKEN",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SLACK_TOKEN", "CALLBACK_HMAC_SECRET");
    public static final int DEFAULT_MAX_IDLE_SEC = 0;
    public static final int DEFAULT_DRAIN_GRACE_SEC = 60;
    /** 30 days: long enough to read a job's report after a holiday, short enough that the disk does not fill. */
    public static final long DEFAULT_ARTIFACTS_TTL_SEC = 30L * 86_400;
    /** 1 day: a workspace is a full clone of the project, and its changes are kept in patch.diff anyway. */
    public static final long DEFAULT_WORKSPACES_TTL_SEC = 86_400;
    public static final int DEFAULT_CALLBACK_MAX_ATTEMPTS = 8;

    /**
     * Runner-wide limits on what a step runs.
     *
     * @param allowedBinaries {@code ALLOWED_BINARIES}: basenames of the agent binaries that may run at all; empty = any
     * @param sandbox         {@code SANDBOX}: when true the wrapper is required, and wraps the jobs whose
     *                        {@code policy.sandbox} is true; when false the wrapper (if set) wraps every step
     * @param network         {@code NETWORK_POLICY}: {@code deny} or {@code allow}
     * @param failOnSecrets   {@code SECRETS_CHECK}: {@code fail} (default) fails a job whose artifacts held a
     *                        secret value, as the prototype's {@code secrets_check} did; {@code redact} only masks it
     */
    public record StepPolicy(List<String> allowedBinaries, boolean sandbox, String network, boolean failOnSecrets) {
        public static final StepPolicy DEFAULT = new StepPolicy(List.of(), false, "deny", true);

        public StepPolicy {
            allowedBinaries = List.copyOf(allowedBinaries);
            if (!network.equals("deny") && !network.equals("allow")) {
                throw new IllegalArgumentException("network must be deny or allow");
            }
        }
    }

    /** Seconds after a job's end when its artifacts and workspace are deleted; 0 keeps them forever. */
    public record Retention(long artifactsTtlSec, long workspacesTtlSec) {
        public static final Retention DEFAULT = new Retention(DEFAULT_ARTIFACTS_TTL_SEC, DEFAULT_WORKSPACES_TTL_SEC);

        public Retention {
            if (artifactsTtlSec < 0 || workspacesTtlSec < 0) {
                throw new IllegalArgumentException("a TTL must not be negative");
            }
        }
    }

    /**
     * Completion callbacks.
     *
     * @param hmacSecret   signs each body ({@code X-Orchestrator-Signature-256}); null = unsigned
     * @param maxAttempts  deliveries tried before the callback is {@code failed}
     * @param allowPrivate allow loopback, link-local and private addresses (a test server, an internal hook)
     */
    public record Callbacks(String hmacSecret, int maxAttempts, boolean allowPrivate) {
        public static final Callbacks DEFAULT = new Callbacks(null, DEFAULT_CALLBACK_MAX_ATTEMPTS, false);

        public Callbacks {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be at least 1");
            }
        }

        @Override
        public String toString() {
            return "Callbacks[hmacSecret=" + (hmacSecret == null ? "none" : Env.mask(hmacSecret)) + ", maxAttempts="
                    + maxAttempts + ", allowPrivate=" + allowPrivate + "]";
        }
    }

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
        policy = policy == null ? StepPolicy.DEFAULT : policy;
        retention = retention == null ? Retention.DEFAULT : retention;
        callbacks = callbacks == null ? Callbacks.DEFAULT : callbacks;
    }

    /** The settings without daily budgets or sandbox wrapper. */
    public RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec, int drainGraceSec) {
        this(concurrency, envAllowlist, sensitiveEnvVars, maxIdleSec, drainGraceSec, 0, 0, List.of(), null, null, null);
    }

    /** A copy with another concurrency (tests, and a reload that only changes that). */
    public RunnerConfig withConcurrency(int n) {
        return new RunnerConfig(n, envAllowlist, sensitiveEnvVars, maxIdleSec, drainGraceSec, maxDailyCostUsd,
                maxDailyApiCalls, sandboxWrapper, policy, retention, callbacks);
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
        List<String> binaries = env.list("ALLOWED_BINARIES");
        for (String b : binaries) {
            if (b.contains("/")) {
                throw new ConfigException("ALLOWED_BINARIES", "'" + b + "' must be a binary's name, not a path");
            }
        }
        boolean sandbox = env.bool("SANDBOX", false);
        if (sandbox && wrapper.isEmpty()) {
            throw new ConfigException("SANDBOX", "is 1 but SANDBOX_WRAPPER is not set: set a wrapper (bwrap, firejail, systemd-run …) or SANDBOX=0");
        }
        String network = env.string("NETWORK_POLICY", "deny").toLowerCase(java.util.Locale.ROOT);
        if (!network.equals("deny") && !network.equals("allow")) {
            throw new ConfigException("NETWORK_POLICY", "must be deny or allow, got '" + network + "'");
        }
        String secretsCheck = env.string("SECRETS_CHECK", "fail").toLowerCase(java.util.Locale.ROOT);
        if (!secretsCheck.equals("fail") && !secretsCheck.equals("redact")) {
            throw new ConfigException("SECRETS_CHECK", "must be fail or redact, got '" + secretsCheck + "'");
        }
        long artifactsTtl = env.longValue("ARTIFACTS_TTL_SEC", DEFAULT_ARTIFACTS_TTL_SEC, 0, 100L * 365 * 86_400);
        long workspacesTtl = env.longValue("WORKSPACES_TTL_SEC", DEFAULT_WORKSPACES_TTL_SEC, 0, 100L * 365 * 86_400);
        String secret = env.get("CALLBACK_HMAC_SECRET");
        int maxAttempts = env.integer("CALLBACK_MAX_ATTEMPTS", DEFAULT_CALLBACK_MAX_ATTEMPTS, 1, 100);
        boolean allowPrivate = env.bool("CALLBACK_ALLOW_PRIVATE", false);
        return new RunnerConfig(concurrency, allow, sensitive, idle, grace, dailyCost, dailyCalls, wrapper,
                new StepPolicy(binaries, sandbox, network, secretsCheck.equals("fail")), new Retention(artifactsTtl, workspacesTtl),
                new Callbacks(secret, maxAttempts, allowPrivate));
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
