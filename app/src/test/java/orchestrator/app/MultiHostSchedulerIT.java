package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two scheduler processes on two "hosts" (an ORCH_HOME each, the same schedule file) over one PostgreSQL store
 * fire every second once between them, also while one of them is SIGKILLed and started again: one fire row and
 * one job per second, none twice, none missing. (The multi-host chaos test does the same under load.)
 */
class MultiHostSchedulerIT {
    @TempDir
    Path root;

    @Test
    void two_schedulers_on_two_hosts_fire_each_second_once_also_across_a_sigkill() throws Exception {
        String database = TestPostgres.databaseOf(TestPostgres.shared().newDatabase());
        String url = TestPostgres.shared().url(database);
        try (Hosts hosts = new Hosts(root, Map.of("DATABASE_URL", url)); JobStore store = PostgresStores.open(url)) {
            OrchestratorProcess[] schedulers = new OrchestratorProcess[2];
            for (int s = 0; s < 2; s++) {
                String host = "scheduler-" + (s + 1);
                Files.createDirectories(hosts.home(host).resolve("schedules"));
                Files.writeString(hosts.home(host).resolve("schedules/tick.json"), "{\"id\": \"tick\", \"schedule\": \"* * * * * *\","
                        + " \"misfire\": \"skip\", \"payload\": {\"goal\": \"tick\"}}");
                schedulers[s] = hosts.start(host, Map.of(), "scheduler");
            }
            Waits.until("both schedulers fire", Duration.ofSeconds(90), () -> store.recentFires("tick", 1000).size() >= 4);
            schedulers[0].kill();
            int beforeRestart = store.recentFires("tick", 1000).size();
            Waits.until("scheduler 2 fires alone", Duration.ofSeconds(30), () -> store.recentFires("tick", 1000).size() >= beforeRestart + 3);
            schedulers[0] = hosts.start("scheduler-1", Map.of(), "scheduler");
            schedulers[0].awaitOutput("scheduler (ready|started)", Duration.ofSeconds(90));
            int afterRestart = store.recentFires("tick", 1000).size();
            Waits.until("both fire again", Duration.ofSeconds(30), () -> store.recentFires("tick", 1000).size() >= afterRestart + 4);
            for (OrchestratorProcess s : schedulers) {
                assertThat(s.terminate(Duration.ofSeconds(30))).as(s.output()).isIn(0, 143);
            }
            List<JobView> jobs = ScheduleFires.eachSecondOnce(store, "tick", t -> false);
            assertThat(jobs).hasSizeGreaterThanOrEqualTo(afterRestart + 4);
        }
    }
}
