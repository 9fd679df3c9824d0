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
                        + " exactly the source's rows is reported as migrated; one that holds other rows is refused (it never merges)."},
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

    @Override
    public Integer call() {
        Logging.configure(ctx.env(), null);
        Path source = sqlitePath(from);
        PostgresUrl target = target(to);
        PrintWriter out = spec.commandLine().getOut();
        if (!java.nio.file.Files.isRegularFile(source)) {
            throw new ExitCodes.Failure(ExitCodes.NOT_FOUND, "migrate refused: no SQLite store " + source);
        }
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
        out.println("every table counts the same rows in both stores; set DATABASE_URL on every host and start the services");
        out.flush();
        return ExitCodes.OK;
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
