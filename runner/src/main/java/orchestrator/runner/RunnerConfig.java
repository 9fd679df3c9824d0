package orchestrator.runner;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
 * @param output           {@code MAX_INPUT_ARTIFACT_CHARS}, {@code MAX_INPUT_ARTIFACTS_CHARS}, {@code MAX_INPUT_ARTIFACTS_FILES},
 *                         {@code MAX_SUBPROCESS_OUTPUT_CHARS} (the prototype's names): how much a prompt inlines, how much a log keeps;
 *                         {@code STORED_ARTIFACT_MAX_BYTES}: how much of each artifact the store keeps (PostgreSQL);
 *                         {@code WORKSPACE_SNAPSHOT_MAX_BYTES}: the largest copy of a workspace the store keeps for another host
 * @param minVersions      {@code MIN_BINARY_VERSIONS}: binary basename to the oldest version a step may run
 * @param delivery         results back to GitHub and Slack ({@code GITHUB_TOKEN}, {@code SLACK_BOT_TOKEN}, {@code PUBLIC_URL}, …)
 * @param secrets          the values to mask, as this configuration sets them (environment or {@code --config} file)
 * @param fileVariables    the {@code ENV_ALLOWLIST} variables that only the {@code --config} file sets: a step gets
 *                         them as it gets the environment's
 */
public record RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec,
                           int drainGraceSec, double maxDailyCostUsd, long maxDailyApiCalls, List<String> sandboxWrapper,
                           StepPolicy policy, Retention retention, Callbacks callbacks, Output output,
                           Map<String, BinaryVersion> minVersions,
                           orchestrator.runner.delivery.DeliverySettings delivery, Secrets secrets,
                           FileVariables fileVariables) {
    public static final int DEFAULT_CONCURRENCY = 2;
    public static final List<String> DEFAULT_ENV_ALLOWLIST =
            List.of("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME", "TMPDIR");
    /** Always treated as secrets, whatever SENSITIVE_ENV_VARS says: an operator should not have to remember them. */
    public static final Set<String> BUILT_IN_SENSITIVE = Set.of("WEBHOOK_TOKEN", "WEBHOOK_TOKENS", "METRICS_TOKEN",
            "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GITHUB_TOKEN", "GH_TOKEN",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SLACK_TOKEN", "CALLBACK_HMAC_SECRET",
            "SLACK_BOT_TOKEN", "GITHUB_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET", "WEBHOOK_HMAC_SECRETS");
    public static final int DEFAULT_MAX_IDLE_SEC = 0;
    public static final int DEFAULT_DRAIN_GRACE_SEC = 60;
    /** 30 days: long enough to read a job's report after a holiday, short enough that the disk does not fill. */
    public static final long DEFAULT_ARTIFACTS_TTL_SEC = 30L * 86_400;
    /** 1 day: a workspace is a full clone of the project, and its changes are kept in patch.diff anyway. */
    public static final long DEFAULT_WORKSPACES_TTL_SEC = 86_400;
    public static final int DEFAULT_CALLBACK_MAX_ATTEMPTS = 8;
    /** How often finished jobs' folders are looked at for deletion: often enough that a TTL is kept to the minutes. */
    public static final long DEFAULT_RETENTION_INTERVAL_SEC = 600;
    public static final int DEFAULT_MAX_INPUT_ARTIFACT_CHARS = 64 * 1024;
    public static final int DEFAULT_MAX_INPUT_ARTIFACTS_CHARS = 256 * 1024;
    /** 64: as many input artifacts as a step may name, so by default none is left out for its count. */
    public static final int DEFAULT_MAX_INPUT_ARTIFACTS_FILES = 64;
    /** 10 MiB of a step's output in its log: a runaway agent cannot fill the disk, a long session still fits. */
    public static final long DEFAULT_MAX_SUBPROCESS_OUTPUT_CHARS = 10L * 1024 * 1024;
    /**
     * 4 MiB per file in the store: every result, report and review patch fits; a runaway build log does not fill
     * the database (the runner's folder keeps the whole file).
     */
    public static final long DEFAULT_STORED_ARTIFACT_MAX_BYTES = 4L * 1024 * 1024;
    /**
     * 64 MiB: the diff of a workspace (or a zip of a plain folder) a resumed job needs on another host. Never cut,
     * since a cut copy would lose changes: a larger one is not stored, and the job resumes on its own host only.
     * The runner holds the copy in memory while it stores or reads it.
     */
    public static final long DEFAULT_WORKSPACE_SNAPSHOT_MAX_BYTES = 64L * 1024 * 1024;

    /**
     * How much of the earlier work a step's prompt inlines and how much of its output its log keeps.
     * Counted in bytes of UTF-8 (the prototype counted characters: the same for ASCII text, and a
     * byte cap is what bounds memory and disk).
     *
     * @param inputArtifactChars  {@code MAX_INPUT_ARTIFACT_CHARS}: the head of each input artifact inlined
     * @param inputArtifactsChars {@code MAX_INPUT_ARTIFACTS_CHARS}: all input artifacts of a step together
     * @param inputArtifactsFiles {@code MAX_INPUT_ARTIFACTS_FILES}: input artifacts inlined; the rest are named, left out
     * @param logCapChars         {@code MAX_SUBPROCESS_OUTPUT_CHARS}: a step's log keeps this much of its output
     * @param storedArtifactMaxBytes {@code STORED_ARTIFACT_MAX_BYTES}: on PostgreSQL, the copy of each artifact kept in
     *                            the store (for other hosts to serve) holds at most this much of the file
     * @param workspaceSnapshotMaxBytes {@code WORKSPACE_SNAPSHOT_MAX_BYTES}: on PostgreSQL, the largest copy of a job's
     *                            workspace stored for another host to resume the job in (a larger one is not stored)
     */
    public record Output(int inputArtifactChars, int inputArtifactsChars, int inputArtifactsFiles, long logCapChars,
                         long storedArtifactMaxBytes, long workspaceSnapshotMaxBytes) {
        public static final Output DEFAULT = new Output(DEFAULT_MAX_INPUT_ARTIFACT_CHARS, DEFAULT_MAX_INPUT_ARTIFACTS_CHARS,
                DEFAULT_MAX_INPUT_ARTIFACTS_FILES, DEFAULT_MAX_SUBPROCESS_OUTPUT_CHARS, DEFAULT_STORED_ARTIFACT_MAX_BYTES);

        public Output {
            if (inputArtifactChars < 1 || inputArtifactsChars < 1 || inputArtifactsFiles < 0 || logCapChars < 1024
                    || storedArtifactMaxBytes < 1024 || workspaceSnapshotMaxBytes < 1024) {
                throw new IllegalArgumentException("output caps must be positive (the log cap and stored artifact and workspace caps at least 1024)");
            }
        }

        /** The caps with the default {@code WORKSPACE_SNAPSHOT_MAX_BYTES}. */
        public Output(int inputArtifactChars, int inputArtifactsChars, int inputArtifactsFiles, long logCapChars,
                      long storedArtifactMaxBytes) {
            this(inputArtifactChars, inputArtifactsChars, inputArtifactsFiles, logCapChars, storedArtifactMaxBytes,
                    DEFAULT_WORKSPACE_SNAPSHOT_MAX_BYTES);
        }

        /** The caps with the default {@code STORED_ARTIFACT_MAX_BYTES}. */
        public Output(int inputArtifactChars, int inputArtifactsChars, int inputArtifactsFiles, long logCapChars) {
            this(inputArtifactChars, inputArtifactsChars, inputArtifactsFiles, logCapChars, DEFAULT_STORED_ARTIFACT_MAX_BYTES);
        }
    }

    /**
     * Runner-wide limits on what a step runs.
     *
     * @param allowedBinaries {@code ALLOWED_BINARIES}: basenames of the agent binaries that may run at all; empty = any
     * @param sandbox         {@code SANDBOX}: when true the wrapper wraps the jobs whose {@code policy.sandbox} is
     *                        true, and without a wrapper their agent steps fail ({@code policy}); when false
     *                        the wrapper (if set) wraps every step
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

    /**
     * Seconds after a job's end when its artifacts and workspace are deleted; 0 keeps them forever.
     *
     * @param intervalSec {@code RETENTION_INTERVAL_SEC}: how often the sweep looks (read at start; a reload keeps it)
     */
    public record Retention(long artifactsTtlSec, long workspacesTtlSec, long intervalSec) {
        public static final Retention DEFAULT = new Retention(DEFAULT_ARTIFACTS_TTL_SEC, DEFAULT_WORKSPACES_TTL_SEC);

        public Retention {
            if (artifactsTtlSec < 0 || workspacesTtlSec < 0) {
                throw new IllegalArgumentException("a TTL must not be negative");
            }
            if (intervalSec < 1) {
                throw new IllegalArgumentException("the retention interval must be at least 1 s");
            }
        }

        public Retention(long artifactsTtlSec, long workspacesTtlSec) {
            this(artifactsTtlSec, workspacesTtlSec, DEFAULT_RETENTION_INTERVAL_SEC);
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
        output = output == null ? Output.DEFAULT : output;
        minVersions = minVersions == null ? Map.of() : Map.copyOf(minVersions);
        delivery = delivery == null ? orchestrator.runner.delivery.DeliverySettings.NONE : delivery;
        secrets = secrets == null ? Secrets.NONE : secrets;
        fileVariables = fileVariables == null ? FileVariables.NONE : fileVariables;
    }

    /** Variables for the steps from the {@code --config} file; printed by name only (a key may be one of them). */
    public record FileVariables(Map<String, String> values) {
        static final FileVariables NONE = new FileVariables(Map.of());

        public FileVariables {
            values = Map.copyOf(values);
        }

        static FileVariables of(Env env, List<String> allowlist) {
            Map<String, String> out = new java.util.LinkedHashMap<>();
            for (String name : allowlist) {
                if (env.source(name) == Env.Source.FILE) {
                    out.put(name, env.get(name));
                }
            }
            return new FileVariables(out);
        }

        @Override
        public String toString() {
            return "FileVariables" + new java.util.TreeSet<>(values.keySet());
        }
    }

    /**
     * Secret values, never printed: a record's own toString would show them wherever the settings are logged.
     *
     * @param values each sensitive variable's value whole, and the parts of it that are secrets on their own
     */
    public record Secrets(List<String> values) {
        static final Secrets NONE = new Secrets(List.of());

        public Secrets {
            values = List.copyOf(values);
        }

        /**
         * What to mask of the sensitive variables as {@code lookup} finds them: each value whole and, since a
         * step may print one part alone, each comma-separated part (a rotation: {@code GITHUB_WEBHOOK_SECRET=old,new}),
         * each token of {@code WEBHOOK_TOKENS} ({@code tok=scope,…}), each secret of {@code WEBHOOK_HMAC_SECRETS}
         * ({@code proj=s1|s2,…}), and a PostgreSQL {@code DATABASE_URL} with its password as written and decoded.
         */
        public static Secrets of(java.util.function.UnaryOperator<String> lookup, Set<String> sensitive) {
            Set<String> out = new LinkedHashSet<>();
            for (String name : sensitive) {
                String v = lookup.apply(name);
                if (v == null || v.isBlank()) {
                    continue;
                }
                out.add(v);
                for (String part : v.split(",")) {
                    String p = part.strip();
                    out.add(p);
                    int eq = p.indexOf('=');
                    if (eq > 0 && name.equals("WEBHOOK_TOKENS")) {
                        out.add(p.substring(0, eq).strip());
                    } else if (eq > 0 && name.equals("WEBHOOK_HMAC_SECRETS")) {
                        for (String s : p.substring(eq + 1).split("\\|")) {
                            out.add(s.strip());
                        }
                    }
                }
            }
            String url = lookup.apply("DATABASE_URL");
            if (url != null && orchestrator.core.config.PostgresUrl.isPostgres(url.strip())) {
                out.add(url.strip());
                java.util.regex.Matcher m = DATABASE_PASSWORD.matcher(url);
                while (m.find()) {
                    String raw = m.group(1) != null ? m.group(1) : m.group(2);
                    out.add(raw);
                    try {
                        out.add(java.net.URLDecoder.decode(raw.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8));
                    } catch (IllegalArgumentException e) {
                        // not percent-encoding: the raw form is all there is
                    }
                }
            }
            out.removeIf(String::isEmpty);
            return new Secrets(List.copyOf(out));
        }

        @Override
        public String toString() {
            return "Secrets[" + values.size() + " values]";
        }
    }

    /** The password of {@code scheme://user:password@host} or of a {@code password=} query parameter. */
    private static final java.util.regex.Pattern DATABASE_PASSWORD =
            java.util.regex.Pattern.compile("://[^:/@?]*:([^@/?]*)@|[?&]password=([^&]*)");

    /** The settings without output caps or minimum versions. */
    public RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec,
                        int drainGraceSec, double maxDailyCostUsd, long maxDailyApiCalls, List<String> sandboxWrapper,
                        StepPolicy policy, Retention retention, Callbacks callbacks) {
        this(concurrency, envAllowlist, sensitiveEnvVars, maxIdleSec, drainGraceSec, maxDailyCostUsd, maxDailyApiCalls,
                sandboxWrapper, policy, retention, callbacks, null, null, null, null, null);
    }

    /** The settings without daily budgets or sandbox wrapper. */
    public RunnerConfig(int concurrency, List<String> envAllowlist, Set<String> sensitiveEnvVars, int maxIdleSec, int drainGraceSec) {
        this(concurrency, envAllowlist, sensitiveEnvVars, maxIdleSec, drainGraceSec, 0, 0, List.of(), null, null, null);
    }

    /** A copy with another concurrency (tests, and a reload that only changes that). */
    public RunnerConfig withConcurrency(int n) {
        return new RunnerConfig(n, envAllowlist, sensitiveEnvVars, maxIdleSec, drainGraceSec, maxDailyCostUsd,
                maxDailyApiCalls, sandboxWrapper, policy, retention, callbacks, output, minVersions, delivery, secrets, fileVariables);
    }

    /** True when SANDBOX=1 asks for a wrapper that is not set: the jobs that want a sandbox cannot run. */
    public boolean sandboxUnavailable() {
        return policy.sandbox() && sandboxWrapper.isEmpty();
    }

    public static RunnerConfig from(Env env) {
        int concurrency = env.integer("RUNNER_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 256);
        List<String> allow = env.list("ENV_ALLOWLIST", DEFAULT_ENV_ALLOWLIST);
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
        // the prototype kept the wrapper's command and its arguments apart; both end up as one argv prefix
        String wrapperArgs = env.get("SANDBOX_WRAPPER_ARGS");
        if (wrapperArgs != null && wrapper.isEmpty()) {
            // the prototype ran such a file (the arguments had nothing to follow), so it must start here too
            org.slf4j.LoggerFactory.getLogger(RunnerConfig.class).warn(
                    "SANDBOX_WRAPPER_ARGS is set but SANDBOX_WRAPPER is not: the arguments have no command to follow and are ignored");
        } else if (wrapperArgs != null) {
            List<String> all = new java.util.ArrayList<>(wrapper);
            try {
                all.addAll(ShellWords.split(wrapperArgs));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("SANDBOX_WRAPPER_ARGS", e.getMessage());
            }
            wrapper = List.copyOf(all);
        }
        List<String> binaries = env.list("ALLOWED_BINARIES");
        for (String b : binaries) {
            if (b.contains("/")) {
                throw new ConfigException("ALLOWED_BINARIES", "'" + b + "' must be a binary's name, not a path");
            }
        }
        // SANDBOX=1 without a wrapper starts, as the prototype did: only the steps that would run an agent
        // process for a job whose policy asks for a sandbox fail (code policy); see sandboxUnavailable()
        boolean sandbox = env.bool("SANDBOX", false);
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
        long retentionEvery = env.longValue("RETENTION_INTERVAL_SEC", DEFAULT_RETENTION_INTERVAL_SEC, 1, 7L * 86_400);
        Output output = new Output(
                env.integer("MAX_INPUT_ARTIFACT_CHARS", DEFAULT_MAX_INPUT_ARTIFACT_CHARS, 1, 16 * 1024 * 1024),
                env.integer("MAX_INPUT_ARTIFACTS_CHARS", DEFAULT_MAX_INPUT_ARTIFACTS_CHARS, 1, 64 * 1024 * 1024),
                env.integer("MAX_INPUT_ARTIFACTS_FILES", DEFAULT_MAX_INPUT_ARTIFACTS_FILES, 0, 64),
                env.longValue("MAX_SUBPROCESS_OUTPUT_CHARS", DEFAULT_MAX_SUBPROCESS_OUTPUT_CHARS, 1024, 1L << 40),
                // a row of the store holds the copy: PostgreSQL's bytea stops at 1 GB
                env.longValue("STORED_ARTIFACT_MAX_BYTES", DEFAULT_STORED_ARTIFACT_MAX_BYTES, 1024, 256L * 1024 * 1024),
                // held in memory while stored and read, and one bytea row: well under PostgreSQL's 1 GB
                env.longValue("WORKSPACE_SNAPSHOT_MAX_BYTES", DEFAULT_WORKSPACE_SNAPSHOT_MAX_BYTES, 1024, 512L * 1024 * 1024));
        Map<String, BinaryVersion> minVersions = new java.util.LinkedHashMap<>();
        env.pairs("MIN_BINARY_VERSIONS").forEach((binary, version) -> {
            if (binary.contains("/")) {
                throw new ConfigException("MIN_BINARY_VERSIONS", "'" + binary + "' must be a binary's name, not a path");
            }
            BinaryVersion v = BinaryVersion.parse(version);
            if (v == null) {
                throw new ConfigException("MIN_BINARY_VERSIONS", binary + "'s version '" + version + "' is not a version such as 2.0.0");
            }
            minVersions.put(binary, v);
        });
        String secret = env.get("CALLBACK_HMAC_SECRET");
        int maxAttempts = env.integer("CALLBACK_MAX_ATTEMPTS", DEFAULT_CALLBACK_MAX_ATTEMPTS, 1, 100);
        boolean allowPrivate = env.bool("CALLBACK_ALLOW_PRIVATE", false);
        return new RunnerConfig(concurrency, allow, sensitive, idle, grace, dailyCost, dailyCalls, wrapper,
                new StepPolicy(binaries, sandbox, network, secretsCheck.equals("fail")),
                new Retention(artifactsTtl, workspacesTtl, retentionEvery), new Callbacks(secret, maxAttempts, allowPrivate),
                output, minVersions, orchestrator.runner.delivery.DeliverySettings.from(env), Secrets.of(env::get, sensitive),
                FileVariables.of(env, allow));
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
