package orchestrator.app;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.store.StoreRestore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Replace the database with a backup made by `orchestrator backup FILE`. Stop every orchestrator process first:"
                + " it refuses while any process has the database open, and names them.",
                "The backup is checked (PRAGMA integrity_check, an orchestrator schema this version can open) and copied in with one"
                        + " atomic rename; the old database is kept beside it as orchestrator.db.<UTC time>.replaced."},
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, "1:no such backup file", "2:usage error, or the file is not a valid orchestrator backup",
                "3:state conflict (a process has the database open)", "4:the restore failed (a file could not be written)"})
final class RestoreCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The backup file.")
    Path backup;

    @Override
    public Integer call() {
        CoreConfig core = ctx.start(ctx.env(), null);
        PrintWriter out = spec.commandLine().getOut();
        if (core.postgres() != null) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "restore replaces the SQLite file; the store is " + core.storeName()
                    + ": restore a pg_dump archive with pg_restore");
        }
        StoreRestore.Restored r;
        try {
            r = new StoreRestore(core.databasePath(), ctx.clock).restore(backup);
        } catch (StoreRestore.Refused e) {
            int code = switch (e.reason()) {
                case BACKUP_NOT_FOUND -> ExitCodes.NOT_FOUND;
                case INVALID_BACKUP -> ExitCodes.USAGE;
                case IN_USE -> ExitCodes.CONFLICT;
            };
            throw new ExitCodes.Failure(code, "restore refused: " + e.getMessage(), e);
        }
        out.println("restored " + r.db() + " from " + backup.toAbsolutePath() + " (" + r.jobs() + " jobs, schema version " + r.version() + ")");
        out.println(r.kept() == null ? "there was no database before" : "the replaced database is kept as " + r.kept());
        out.flush();
        return ExitCodes.OK;
    }
}
