package orchestrator.app;

import java.time.Clock;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.Source;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.SqliteJobStore;

/**
 * A process that keeps the store busy for the restore test: it enqueues jobs one after another, printing
 * {@code WROTE n} after each commit, until it is killed. Configuration from the environment, like a service.
 */
final class StoreWriterMain {
    private StoreWriterMain() {
    }

    public static void main(String[] args) {
        Env env = Env.load(null);
        CoreConfig core = CoreConfig.from(env);
        SqliteJobStore store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
        for (long n = 1; ; n++) {
            store.enqueue(new NewJob(core.agents().parser().parse(Json.parse("{\"goal\": \"job " + n + "\"}")),
                    new Source("cli", Map.of()), "writer"));
            System.out.println("WROTE " + n);
            System.out.flush();
        }
    }
}
