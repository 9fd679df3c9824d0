package orchestrator.core.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.agent.AgentCatalog;
import orchestrator.core.job.JobSpecParser;

/**
 * Settings every process shares: where the data lives, the store, leases and the agents.
 *
 * @param home            {@code ORCH_HOME}: data folder (database, artifacts, workspaces, logs)
 * @param databasePath    the SQLite file, from {@code DATABASE_URL} or {@code $ORCH_HOME/orchestrator.db}; with
 *                        {@code postgres} set it is not opened (it still names where ORCH_HOME's disk is)
 * @param leaseTtl        {@code LEASE_TTL_SEC}: how long a lease lives without a heartbeat
 * @param maxLeaseAttempts {@code MAX_LEASE_ATTEMPTS}: lost leases before a job fails with {@code lease_lost}
 * @param agents          built-in agents plus {@code AGENTS_FILE}
 * @param projects        {@code PROJECT_ALIASES}: project id to its repository folder, in the order given
 * @param logsDir         {@code LOG_DIR}: where long-running processes write their log files
 *                        (default {@code $ORCH_HOME/logs}; the systemd units use {@code /var/log/orchestrator})
 * @param runnerStaleAfter {@code RUNNER_STALE_SEC}: a runner whose registry heartbeat is older than this is stale
 *                        (runners beat well within it; {@code /ready} needs a live one)
 * @param artifactsDir    {@code ARTIFACTS_ROOT} (the prototype's name): one folder per job, default {@code $ORCH_HOME/artifacts}
 * @param workspacesDir   {@code WORKSPACES_ROOT} (the prototype's name): one workspace per job, default {@code $ORCH_HOME/workspaces}
 * @param postgres        the PostgreSQL store of {@code DATABASE_URL=postgresql://…} (and its {@code DATABASE_POOL_SIZE}),
 *                        or null for SQLite
 */
public record CoreConfig(Path home, Path databasePath, Duration leaseTtl, int maxLeaseAttempts, AgentCatalog agents,
                         Map<String, Path> projects, Path logsDir, Duration runnerStaleAfter, Path artifactsDir,
                         Path workspacesDir, PostgresUrl postgres) {
    public static final String DEFAULT_HOME = "./var";
    public static final int DEFAULT_LEASE_TTL_SEC = 30;
    public static final int DEFAULT_MAX_LEASE_ATTEMPTS = 3;
    /** A minute: a dozen missed beats (runners beat every 5 s), well past a long GC pause or a busy disk. */
    public static final int DEFAULT_RUNNER_STALE_SEC = 60;

    /** The folders under {@code home}, as before ARTIFACTS_ROOT and WORKSPACES_ROOT could move them. */
    public CoreConfig(Path home, Path databasePath, Duration leaseTtl, int maxLeaseAttempts, AgentCatalog agents,
                      Map<String, Path> projects, Path logsDir, Duration runnerStaleAfter) {
        this(home, databasePath, leaseTtl, maxLeaseAttempts, agents, projects, logsDir, runnerStaleAfter,
                home.resolve("artifacts"), home.resolve("workspaces"), null);
    }

    public static CoreConfig from(Env env) {
        Path home = Path.of(env.string("ORCH_HOME", DEFAULT_HOME)).toAbsolutePath().normalize();
        String url = env.get("DATABASE_URL");
        // the prototype's name for its SQLite file; DATABASE_URL, ours, wins when both are set
        String statePath = env.get("STATE_DB_PATH");
        // checked on SQLite too (where it sizes nothing): a bad value is an error before the move to PostgreSQL, not after
        int poolSize = env.integer("DATABASE_POOL_SIZE", PostgresUrl.DEFAULT_POOL_SIZE, PostgresUrl.MIN_POOL_SIZE, 500);
        PostgresUrl postgres = url != null && PostgresUrl.isPostgres(url) ? PostgresUrl.parse(url).withPoolSize(poolSize) : null;
        Path db = postgres != null ? home.resolve("orchestrator.db")
                : url == null && statePath != null ? Path.of(statePath).toAbsolutePath().normalize() : databasePath(url, home);
        Duration ttl = Duration.ofSeconds(env.integer("LEASE_TTL_SEC", DEFAULT_LEASE_TTL_SEC, 3, 3600));
        int attempts = env.integer("MAX_LEASE_ATTEMPTS", DEFAULT_MAX_LEASE_ATTEMPTS, 1, 100);
        Map<String, Path> projects = new LinkedHashMap<>();
        env.pairs("PROJECT_ALIASES").forEach((id, dir) -> {
            if (!JobSpecParser.PROJECT_ID.matcher(id).matches()) {
                throw new ConfigException("PROJECT_ALIASES", "project id '" + id + "' must match " + JobSpecParser.PROJECT_ID.pattern());
            }
            if (dir.isEmpty()) {
                throw new ConfigException("PROJECT_ALIASES", "project '" + id + "' has no folder");
            }
            projects.put(id, Path.of(dir).toAbsolutePath().normalize());
        });
        Path logs = Path.of(env.string("LOG_DIR", home.resolve("logs").toString())).toAbsolutePath().normalize();
        // at least 2 s: runners beat every quarter of it (at most every 5 s), and a beat needs a commit
        Duration stale = Duration.ofSeconds(env.integer("RUNNER_STALE_SEC", DEFAULT_RUNNER_STALE_SEC, 2, 86_400));
        Path artifacts = Path.of(env.string("ARTIFACTS_ROOT", home.resolve("artifacts").toString())).toAbsolutePath().normalize();
        Path workspaces = Path.of(env.string("WORKSPACES_ROOT", home.resolve("workspaces").toString())).toAbsolutePath().normalize();
        return new CoreConfig(home, db, ttl, attempts, AgentCatalog.from(env), Collections.unmodifiableMap(projects), logs,
                stale, artifacts, workspaces, postgres);
    }

    private static Path databasePath(String url, Path home) {
        if (url == null) {
            return home.resolve("orchestrator.db");
        }
        if (url.startsWith("jdbc:sqlite:")) {
            return Path.of(url.substring("jdbc:sqlite:".length())).toAbsolutePath();
        }
        if (url.startsWith("sqlite:///")) {
            return Path.of(url.substring("sqlite://".length()));
        }
        if (url.startsWith("sqlite:")) {
            return Path.of(url.substring("sqlite:".length())).toAbsolutePath();
        }
        throw new ConfigException("DATABASE_URL", "must be sqlite:/path/to/file.db, jdbc:sqlite:/path or"
                + " postgresql://user:password@host:5432/database (got a value of another scheme)");
    }

    /** A copy with other agents: what a reload may change; the folders and the store stay. */
    public CoreConfig withAgents(AgentCatalog newAgents) {
        return withReloadable(newAgents, projects);
    }

    /** A copy with the agents and projects of {@code fresh}: all of this a reload changes. */
    public CoreConfig withReloadable(AgentCatalog newAgents, Map<String, Path> newProjects) {
        return new CoreConfig(home, databasePath, leaseTtl, maxLeaseAttempts, newAgents,
                Collections.unmodifiableMap(new LinkedHashMap<>(newProjects)), logsDir, runnerStaleAfter,
                artifactsDir, workspacesDir, postgres);
    }

    /** Where the store lives, for messages: the SQLite file, or {@code postgresql://user@host:port/db} (no password). */
    public String storeName() {
        return postgres != null ? postgres.display() : databasePath.toString();
    }
}
