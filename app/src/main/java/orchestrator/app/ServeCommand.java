package orchestrator.app;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobStore;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.GatewayServer;
import orchestrator.runner.Runner;
import orchestrator.runner.RunnerConfig;
import orchestrator.scheduler.Scheduler;
import orchestrator.scheduler.SchedulerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Gateway, runner pool and scheduler in one process, on the embedded SQLite store.")
final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @Mixin
    Context ctx;

    @Override
    public Integer call() {
        Env env = ctx.env();
        CoreConfig core = ctx.start(env, "orchestrator");
        GatewayConfig gatewayConfig = GatewayConfig.from(env, core);
        RunnerConfig runnerConfig = RunnerConfig.from(env);
        JobStore store = ctx.openStore(core);
        var files = ctx.storedFiles(store);
        Runner runner = new Runner(runnerConfig, core, store, ctx.clock, Lifecycle.runnerId("serve"), files);
        Scheduler scheduler = new Scheduler(SchedulerConfig.from(env, core), core, store, ctx.clock, Lifecycle.runnerId("serve"));
        GatewayServer gateway = new GatewayServer(gatewayConfig, core, store, ctx.clock, scheduler, files);
        int port = gateway.start();
        runner.start();
        scheduler.start();
        Lifecycle.awaitShutdown(List.of(
                scheduler::close,
                () -> runner.drain(Duration.ofSeconds(runnerConfig.drainGraceSec())),
                gateway::close,
                Context.closing(files),
                store::close),
                () -> ctx.reload(runner, gateway, scheduler),
                () -> log.info("orchestrator {} ready: http://{}:{} (data in {})", Main.VERSION, gatewayConfig.host(), port, core.home()));
        return 0;
    }
}
