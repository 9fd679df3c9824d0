package orchestrator.app;

import java.util.List;
import java.util.concurrent.Callable;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobStore;
import orchestrator.scheduler.Scheduler;
import orchestrator.scheduler.SchedulerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "scheduler", mixinStandardHelpOptions = true,
        description = "The cron scheduler alone (systemd: orchestrator-scheduler). Any number may run: each fire happens once.")
final class SchedulerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(SchedulerCommand.class);

    @Mixin
    Context ctx;

    @Override
    public Integer call() {
        Env env = ctx.env();
        CoreConfig core = ctx.start(env, "scheduler");
        SchedulerConfig config = SchedulerConfig.from(env, core);
        JobStore store = ctx.openStore(core);
        Scheduler scheduler = new Scheduler(config, core, store, ctx.clock, Lifecycle.runnerId("scheduler"));
        scheduler.start();
        log.info("orchestrator {} scheduler ready: schedules in {}", Main.VERSION, config.schedulesDir());
        Lifecycle.awaitShutdown(List.of(scheduler::close, store::close), () -> ctx.reload(null, null, scheduler));
        return 0;
    }
}
