package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several runner processes over one database: no job lost, none run twice (db-scheduler's cluster test). */
class RunnerPoolIT {
    /**
     * Enough for the four processes' lease calls to race on every poll (each runs up to 4 jobs at a time), and
     * exactly as many as one listing returns, so that every job's events are checked; 2,000 cost 27 s of the
     * default run for no other check.
     */
    private static final int JOBS = JobQuery.MAX_LIMIT;
    private static final int RUNNERS = 4;

    @TempDir
    Path home;

    @Test
    void four_runner_processes_run_each_of_500_jobs_exactly_once() throws Exception {
        Path out = home.resolve("ran.txt");
        Path agents = home.resolve("agents.json");
        Files.writeString(agents, Json.write(Map.of("append", Map.of("type", "command",
                "argv", List.of("sh", "-c", "echo {job_id} >> " + out)))));
        Map<String, String> env = new HashMap<>(Map.of("ORCH_HOME", home.toString(), "AGENTS_FILE", agents.toString(),
                "RUNNER_CONCURRENCY", "4", "LEASE_TTL_SEC", "30"));
        CoreConfig core = CoreConfig.from(new Env(env));

        Set<String> ids = new HashSet<>();
        try (SqliteJobStore store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts())) {
            ExecutorService pool = Executors.newFixedThreadPool(32);
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                String payload = "{\"goal\":\"append " + i + "\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"append\",\"prompt\":\"x\"}]}";
                fs.add(pool.submit(() -> store.enqueue(new NewJob(core.agents().parser().parse(Json.parse(payload)),
                        Source.of("api"), "test")).jobId()));
            }
            for (Future<String> f : fs) {
                ids.add(f.get());
            }
            pool.shutdown();
            assertThat(ids).hasSize(JOBS);

            List<OrchestratorProcess> runners = new ArrayList<>();
            try {
                for (int i = 1; i <= RUNNERS; i++) {
                    runners.add(OrchestratorProcess.start(home.resolve("runner-" + i + ".out"), env, "runner", "--instance", String.valueOf(i)));
                }
                Waits.until("all jobs final", Duration.ofMinutes(6), () -> {
                    Map<JobState, Long> c = store.countByState();
                    return c.get(JobState.SUCCEEDED) + c.get(JobState.FAILED) + c.get(JobState.CANCELLED) == JOBS;
                });
                for (OrchestratorProcess r : runners) {
                    assertThat(r.terminate(Duration.ofSeconds(60))).isZero();
                }
            } finally {
                for (OrchestratorProcess r : runners) {
                    r.close();
                }
            }

            assertThat(store.countByState().get(JobState.SUCCEEDED)).isEqualTo(JOBS);
            List<String> lines = Files.readAllLines(out);
            assertThat(lines).hasSize(JOBS);
            assertThat(new HashSet<>(lines)).isEqualTo(ids);
            // every job went queued -> running -> succeeded once, and more than one runner did work
            Set<String> owners = new HashSet<>();
            List<JobView> all = store.list(new JobQuery(null, true, null, JOBS));
        assertThat(all).extracting(JobView::id).as("one listing holds every job").containsExactlyInAnyOrderElementsOf(ids);
        for (JobView v : all) {
                List<JobEvent> ev = store.events(v.id());
                assertThat(ev).extracting(JobEvent::toState).containsExactly("queued", "running", "succeeded");
                owners.add(ev.get(1).actor());
            }
            assertThat(owners).as("runners that leased jobs").hasSizeGreaterThan(1);
        }
    }
}
