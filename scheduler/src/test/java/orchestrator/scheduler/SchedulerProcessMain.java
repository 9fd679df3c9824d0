package orchestrator.scheduler;

import java.time.Clock;
import java.util.concurrent.CountDownLatch;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.SqliteJobStore;

/**
 * A scheduler process for the multi-process test, standing in for the app's {@code orchestrator scheduler}
 * command until it exists: configuration from the environment, the real clock, runs until killed.
 * Prints {@code READY <id>} once the loop is running.
 */
final class SchedulerProcessMain {
    private SchedulerProcessMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        String id = args.length > 0 ? args[0] : "pid-" + ProcessHandle.current().pid();
        Env env = Env.load(null);
        CoreConfig core = CoreConfig.from(env);
        SchedulerConfig config = SchedulerConfig.from(env, core);
        SqliteJobStore store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
        Scheduler scheduler = new Scheduler(config, core, store, Clock.systemUTC(), id);
        scheduler.start();
        System.out.println("READY " + id);
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
