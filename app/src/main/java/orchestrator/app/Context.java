package orchestrator.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.SqliteJobStore;
import picocli.CommandLine.Option;

/** The options and wiring every command shares: configuration, logging, the store. */
final class Context {
    @Option(names = "--config", paramLabel = "FILE", description = "An env file (KEY=VALUE lines); environment variables win over it.")
    Path configFile;

    final Clock clock = Clock.systemUTC();

    Env env() {
        return Env.load(configFile);
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
        return core;
    }

    JobStore openStore(CoreConfig core) {
        return new SqliteJobStore(core.databasePath(), clock, core.leaseTtl(), core.maxLeaseAttempts());
    }

    static String hostname() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }

    /** SIGHUP for a process with a runner: settings and agents for the jobs it leases next; running jobs keep theirs. */
    void reload(orchestrator.runner.Runner runner) {
        org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Context.class);
        try {
            Env fresh = env();
            runner.reload(orchestrator.runner.RunnerConfig.from(fresh), orchestrator.core.agent.AgentCatalog.from(fresh));
            log.info("configuration reloaded (SIGHUP)");
        } catch (orchestrator.core.OrchestratorException e) {
            log.error("SIGHUP: the new configuration is invalid, keeping the old one: {}", e.getMessage());
        }
    }
}
