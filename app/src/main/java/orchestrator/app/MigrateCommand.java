package orchestrator.app;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Callable;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.PostgresUrl;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.StoreMigration;
import orchestrator.runner.RunnerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = {"Copy a SQLite store into an empty PostgreSQL store, to move to several hosts (docs/DEPLOYMENT.md)."
                + " Stop every orchestrator process of the SQLite store first: it refuses while any has it open, and names them.",
                "Creates the PostgreSQL tables, copies jobs, steps, events, schedule fires and pauses, daily usage and callbacks in one"
                        + " transaction, and commits only when every table counts the same rows on both sides. A target that already holds"
                        + " exactly the source's rows is reported as migrated; one that holds other rows is refused (it never merges).",
                "Then the ended jobs' logs and artifacts (the artifacts folder of this host) are copied into the store, so that every"
                        + " gateway serves them; a run again copies only what is missing."},
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, "1:no such SQLite store", "2:usage error, or the source or target is not an orchestrator store",
                "3:state conflict (a process has the SQLite store open, or the target is not empty)",
                "4:PostgreSQL unreachable, or the copy failed (nothing was committed)"})
final class MigrateCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Spec
    CommandSpec spec;

    @Option(names = "--from", required = true, paramLabel = "sqlite:FILE", description = "The SQLite store: sqlite:/path/orchestrator.db.")
    String from;

    @Option(names = "--to", required = true, paramLabel = "URL",
            description = "The PostgreSQL store: postgresql://user:password@host:5432/database (an empty database).")
    String to;

    @Option(names = "--artifacts", paramLabel = "DIR",
            description = "The SQLite host's artifacts folder, whose jobs' logs and artifacts are copied into the store so that"
                    + " every gateway serves them (default: ARTIFACTS_ROOT, or $ORCH_HOME/artifacts, of the configuration).")
    Path artifacts;

    @Option(names = "--no-artifacts", description = "Copy the store's rows only; old jobs' logs and artifacts stay on this host.")
    boolean noArtifacts;

    @Override
    public Integer call() {
        Logging.configure(ctx.env(), null);
        Path source = sqlitePath(from);
        PostgresUrl target = target(to);
        PrintWriter out = spec.commandLine().getOut();
        if (!java.nio.file.Files.isRegularFile(source)) {
            throw new ExitCodes.Failure(ExitCodes.NOT_FOUND, "migrate refused: no SQLite store " + source);
        }
        Path folders = noArtifacts ? null : artifactsFolder();
        // the store creates (or brings up to date) its own tables: the copy fills them
        new PostgresJobStore(target.jdbcUrl(), target.user(), target.password(), ctx.clock, Duration.ofSeconds(30), 3).close();
        Properties props = new Properties();
        if (target.user() != null) {
            props.setProperty("user", target.user());
        }
        if (target.password() != null) {
            props.setProperty("password", target.password());
        }
        StoreMigration.Result r;
        try {
            r = new StoreMigration(source, target.jdbcUrl(), props, target.display()).migrate();
        } catch (StoreMigration.Refused e) {
            int code = switch (e.reason()) {
                case SOURCE_NOT_FOUND -> ExitCodes.NOT_FOUND;
                case INVALID_SOURCE, TARGET_NOT_READY -> ExitCodes.USAGE;
                case IN_USE, TARGET_NOT_EMPTY -> ExitCodes.CONFLICT;
            };
            throw new ExitCodes.Failure(code, "migrate refused: " + e.getMessage(), e);
        }
        out.println(r.alreadyMigrated()
                ? "already migrated: " + target + " holds the rows of " + source + "; nothing was written"
                : "migrated " + source + " to " + target);
        for (StoreMigration.Table t : r.tables()) {
            out.printf("  %-16s %8d rows%n", t.name(), t.targetRows());
        }
        out.println("every table counts the same rows in both stores");
        out.flush();
        if (folders != null) {
            MigratedFolders.Copied c;
            try (PostgresJobStore store = new PostgresJobStore(target.jdbcUrl(), target.user(), target.password(), ctx.clock,
                    Duration.ofSeconds(30), 3)) {
                c = MigratedFolders.copy(store, folders, RunnerConfig.from(ctx.env()).output().storedArtifactMaxBytes());
            }
            out.printf("logs and artifacts from %s: %d jobs copied into the store, %d copied before, %d not copied (queued or running)%n",
                    folders, c.copied(), c.before(), c.active());
            if (!c.failed().isEmpty()) {
                out.flush();
                throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "migrate: the rows are copied, but the files of " + c.failed().size()
                        + " jobs could not all be stored (" + String.join(", ", c.failed().subList(0, Math.min(5, c.failed().size())))
                        + (c.failed().size() > 5 ? ", ..." : "") + "; the log above says why): run migrate again to copy what is missing");
            }
        } else {
            out.println("logs and artifacts: not copied (--no-artifacts); old jobs' files are served only by a gateway on this host");
        }
        out.println("set DATABASE_URL on every host and start the services");
        out.flush();
        return ExitCodes.OK;
    }

    /** --artifacts, or the configuration's folder; null (with a note) when the default one does not exist. */
    private Path artifactsFolder() {
        if (artifacts != null) {
            if (!java.nio.file.Files.isDirectory(artifacts)) {
                throw new ConfigException("--artifacts", "no such folder: " + artifacts);
            }
            return artifacts.toAbsolutePath().normalize();
        }
        Path dir = orchestrator.core.config.CoreConfig.from(ctx.env()).artifactsDir();
        if (!java.nio.file.Files.isDirectory(dir)) {
            spec.commandLine().getOut().println("logs and artifacts: no folder " + dir + " (ARTIFACTS_ROOT, --artifacts DIR): none copied");
            return null;
        }
        return dir;
    }

    /** The PostgreSQL store of {@code url}, read as DATABASE_URL is; an error names --to. */
    private static PostgresUrl target(String url) {
        if (!PostgresUrl.isPostgres(url)) {
            throw new ConfigException("--to", "must be postgresql://user:password@host:5432/database");
        }
        try {
            return PostgresUrl.parse(url);
        } catch (ConfigException e) {
            throw new ConfigException("--to", e.getMessage().substring(e.variable().length() + 2));
        }
    }

    /** The SQLite file of {@code url}, read as DATABASE_URL is (sqlite:, sqlite:///, jdbc:sqlite:). */
    private static Path sqlitePath(String url) {
        if (!url.startsWith("sqlite:") && !url.startsWith("jdbc:sqlite:")) {
            throw new ConfigException("--from", "must be sqlite:/path/to/orchestrator.db");
        }
        try {
            return orchestrator.core.config.CoreConfig.from(new orchestrator.core.config.Env(java.util.Map.of("DATABASE_URL", url)))
                    .databasePath();
        } catch (ConfigException e) {
            throw new ConfigException("--from", "must be sqlite:/path/to/orchestrator.db");
        }
    }
}
