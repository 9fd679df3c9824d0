package orchestrator.app;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobStore;
import orchestrator.runner.Runner;
import orchestrator.runner.RunnerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "runner", mixinStandardHelpOptions = true,
        description = "One runner process (systemd: orchestrator-runner@N). Leases jobs and runs their steps.")
final class RunnerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(RunnerCommand.class);

    @Mixin
    Context ctx;

    @Option(names = "--instance", paramLabel = "N", defaultValue = "1", description = "Instance number, for logs and the runner id (default ${DEFAULT-VALUE}).")
    int instance;

    @Override
    public Integer call() {
        if (instance < 1) {
            throw new orchestrator.core.OrchestratorException("--instance must be 1 or more, got " + instance);
        }
        Env env = ctx.env();
        CoreConfig core = ctx.start(env, "runner-" + instance);
        RunnerConfig config = RunnerConfig.from(env);
        JobStore store = ctx.openStore(core);
        String id = Lifecycle.runnerId("runner-" + instance);
        var files = ctx.storedFiles(store);
        Runner runner = new Runner(config, core, store, ctx.clock, id, files);
        runner.start();
        log.info("orchestrator {} runner {} ready (concurrency {})", Main.VERSION, id, config.concurrency());
        Lifecycle.awaitShutdown(List.of(() -> runner.drain(Duration.ofSeconds(config.drainGraceSec())), Context.closing(files),
                store::close),
                () -> ctx.reload(runner, null, null));
        return 0;
    }
}
