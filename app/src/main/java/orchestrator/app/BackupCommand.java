package orchestrator.app;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.store.JobStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "backup", mixinStandardHelpOptions = true,
        description = "Write a consistent copy of the live database to FILE (which must not exist); the services keep running.")
final class BackupCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Parameters(paramLabel = "FILE")
    Path target;

    @Override
    public Integer call() {
        CoreConfig core = ctx.start(ctx.env(), null);
        if (core.postgres() != null) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "backup copies the SQLite file; the store is " + core.storeName()
                    + ": back it up with pg_dump (pg_dump -Fc -f FILE DBNAME), restore with pg_restore");
        }
        try (JobStore store = ctx.openStore(core)) {
            store.backup(target);
        }
        System.out.println("backed up " + core.storeName() + " to " + target.toAbsolutePath());
        return 0;
    }
}
