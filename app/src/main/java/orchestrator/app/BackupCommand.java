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
        try (JobStore store = ctx.openStore(core)) {
            store.backup(target);
        }
        System.out.println("backed up " + core.databasePath() + " to " + target.toAbsolutePath());
        return 0;
    }
}
