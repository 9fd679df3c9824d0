package orchestrator.app;

import java.util.List;
import java.util.concurrent.Callable;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobStore;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.GatewayServer;
import orchestrator.scheduler.Scheduler;
import orchestrator.scheduler.SchedulerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "gateway", mixinStandardHelpOptions = true, description = "The HTTP gateway alone (systemd: orchestrator-api).")
final class GatewayCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(GatewayCommand.class);

    @Mixin
    Context ctx;

    @picocli.CommandLine.Option(names = "--no-runners",
            description = "This gateway runs without runners on purpose: /ready does not wait for a live runner (READY_REQUIRES_RUNNER=0).")
    boolean noRunners;

    @Override
    public Integer call() {
        if (noRunners) {
            ctx.overrides.put("READY_REQUIRES_RUNNER", "0");
        }
        Env env = ctx.env();
        CoreConfig core = ctx.start(env, "gateway");
        GatewayConfig config = GatewayConfig.from(env, core);
        JobStore store = ctx.openStore(core);
        // never started: it only reads the schedule files and acts through the store for /schedules, while the
        // scheduler processes (orchestrator-scheduler) fire; a pause set here holds for them through the store
        Scheduler schedules = new Scheduler(SchedulerConfig.from(env, core), core, store, ctx.clock, Lifecycle.runnerId("gateway"));
        var files = ctx.storedFiles(store);
        GatewayServer gateway = new GatewayServer(config, core, store, ctx.clock, schedules, files);
        int port = gateway.start();
        Lifecycle.awaitShutdown(List.of(gateway::close, Context.closing(files), store::close), () -> ctx.reload(null, gateway, schedules),
                () -> log.info("orchestrator {} gateway ready: http://{}:{}", Main.VERSION, config.host(), port));
        return 0;
    }
}
