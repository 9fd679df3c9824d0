package orchestrator.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.config.PostgresUrl;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.SqliteJobStore;
import picocli.CommandLine.Option;

/** The options and wiring every command shares: configuration, logging, the store. */
final class Context {
    @Option(names = "--config", paramLabel = "FILE", description = "An env file (KEY=VALUE lines); environment variables win over it.")
    Path configFile;

    final Clock clock = Clock.systemUTC();

    /** Settings a command's own options fix, over the environment and the file (a SIGHUP reload keeps them). */
    final java.util.Map<String, String> overrides = new java.util.HashMap<>();

    Env env() {
        Env loaded = Env.load(configFile);
        if (overrides.isEmpty()) {
            return loaded;
        }
        java.util.Map<String, String> env = new java.util.HashMap<>(System.getenv());
        env.putAll(overrides);
        return new Env(configFile == null ? java.util.Map.of() : Env.parseFile(configFile), env);
    }

    /** Reads the configuration and sets up logging; a long-running process also logs to $ORCH_HOME/logs/{@code logName}.log. */
    CoreConfig start(Env env, String logName) {
        CoreConfig core = CoreConfig.from(env);
        Path logFile = null;
        if (logName != null) {
            try {
                Files.createDirectories(core.logsDir());
                logFile = core.logsDir().resolve(logName + ".log");
            } catch (java.io.IOException e) {
                throw new orchestrator.core.config.ConfigException("ORCH_HOME", "cannot create " + core.logsDir() + ": " + e.getMessage());
            }
        }
        Logging.configure(env, logFile);
        if (logName != null) {
            warnAboutPrototypeNames(env);
        }
        return core;
    }

    /** The store DATABASE_URL names: PostgreSQL for postgresql://…, else the SQLite file. */
    JobStore openStore(CoreConfig core) {
        PostgresUrl pg = core.postgres();
        if (pg != null) {
            return new PostgresJobStore(pg, clock, core.leaseTtl(), core.maxLeaseAttempts());
        }
        return new SqliteJobStore(core.databasePath(), clock, core.leaseTtl(), core.maxLeaseAttempts());
    }

    /**
     * The store's copy of the jobs' logs and artifacts that every host serves: on PostgreSQL a
     * {@code PostgresStoredFiles} on the job store's pool; on SQLite (one host) none, and the gateway reads this
     * host's folder. The runner ships into it and the gateway reads it; whoever opens it closes it after both.
     */
    java.util.Optional<orchestrator.core.store.StoredFiles> storedFiles(JobStore store) {
        return store instanceof PostgresJobStore pg ? java.util.Optional.of(pg.storedFiles()) : java.util.Optional.empty();
    }

    /** Closes the stored files, if any: a shutdown step after the runner and gateway that use them. */
    static Lifecycle.StopAction closing(java.util.Optional<orchestrator.core.store.StoredFiles> files) {
        return () -> files.ifPresent(orchestrator.core.store.StoredFiles::close);
    }

    static String hostname() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }

    /**
     * The one start-up warning of a serving process about the prototype's variables that do nothing here
     * (DESIGN §5: its env file starts us unchanged, so they are no error, but they must not pass unmentioned).
     */
    static void warnAboutPrototypeNames(Env env) {
        String warning = orchestrator.core.config.PrototypeNames.warning(env);
        if (warning != null) {
            org.slf4j.LoggerFactory.getLogger(Context.class).warn("{}", warning);
        }
    }

    /**
     * SIGHUP: re-reads the configuration and swaps it into the runner (settings, agents, projects for the jobs
     * it leases next; running jobs keep theirs) and the gateway (tokens, scopes, secrets, projects, limits).
     * Everything is read and checked before anything is swapped: a bad new file changes nothing and says why.
     *
     * @param runner    null in a process without one
     * @param gateway   null in a process without one
     * @param scheduler the process's scheduler (the gateway's reads the schedule files for /schedules), or null
     */
    void reload(orchestrator.runner.Runner runner, orchestrator.gateway.GatewayServer gateway,
                orchestrator.scheduler.Scheduler scheduler) {
        org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Context.class);
        try {
            Env fresh = env();
            CoreConfig core = CoreConfig.from(fresh);
            orchestrator.runner.RunnerConfig runnerConfig = runner == null ? null : orchestrator.runner.RunnerConfig.from(fresh);
            orchestrator.gateway.GatewayConfig gatewayConfig = gateway == null ? null : orchestrator.gateway.GatewayConfig.from(fresh, core);
            if (runner != null) {
                runner.reload(runnerConfig, core.agents(), core.projects());
            }
            if (gateway != null) {
                gateway.reload(gatewayConfig);
            }
            if (scheduler != null) {
                scheduler.reconfigure(core);
            }
            warnAboutPrototypeNames(fresh);
            java.util.List<String> parts = new java.util.ArrayList<>();
            if (runner != null) {
                parts.add("runner");
            }
            if (gateway != null) {
                parts.add("gateway");
            }
            if (scheduler != null && gateway == null) {
                parts.add("scheduler"); // a gateway's scheduler only reads the files: the gateway's reload says it
            }
            log.info("configuration reloaded (SIGHUP): {}", String.join(" and ", parts));
        } catch (orchestrator.core.OrchestratorException e) {
            log.error("SIGHUP: the new configuration is invalid, keeping the old one: {}", e.getMessage());
        }
    }
}
