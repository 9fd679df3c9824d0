package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM on a real runner process with a running job: the job finishes within the grace, or goes back to the queue. */
class RunnerDrainIT {
    @TempDir
    Path home;

    private SqliteJobStore store(Map<String, String> env) {
        CoreConfig core = CoreConfig.from(new Env(env));
        return new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
    }

    private String enqueue(SqliteJobStore store, Map<String, String> env, String agent) {
        CoreConfig core = CoreConfig.from(new Env(env));
        return store.enqueue(new NewJob(core.agents().parser().parse(Json.parse(
                "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"" + agent + "\",\"prompt\":\"x\",\"timeout_sec\":900}]}")),
                Source.of("api"), "test")).jobId();
    }

    @Test
    void sigterm_releases_a_job_that_outlives_the_grace_and_another_runner_finishes_it() throws Exception {
        Path marks = Files.createDirectories(home.resolve("marks"));
        Path agents = home.resolve("agents.json");
        Files.writeString(agents, Json.write(Map.of("once-hangs", Map.of("type", "command", "argv", List.of("sh", "-c",
                "if [ -e " + marks + "/{job_id} ]; then echo second run; else touch " + marks + "/{job_id}; exec sleep 600; fi")))));
        // a long lease: only the drain's release can give the job back this quickly
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "AGENTS_FILE", agents.toString(),
                "LEASE_TTL_SEC", "300", "RUNNER_DRAIN_GRACE_SEC", "2");
        try (SqliteJobStore store = store(env)) {
            String id = enqueue(store, env, "once-hangs");
            try (OrchestratorProcess first = OrchestratorProcess.start(home.resolve("r1.out"), env, "runner", "--instance", "1")) {
                Waits.until("the step to start", Duration.ofSeconds(60), () -> Files.exists(marks.resolve(id)));
                long t0 = System.nanoTime();
                assertThat(first.terminate(Duration.ofSeconds(30))).as(first.output()).isZero();
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
            }
            assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.QUEUED);
            assertThat(ProcessScan.withEnv("ORCH_JOB_ID=" + id)).as("the drained step's tree is gone").isEmpty();
            try (OrchestratorProcess second = OrchestratorProcess.start(home.resolve("r2.out"), env, "runner", "--instance", "2")) {
                Waits.until("the job to succeed on the second runner", Duration.ofSeconds(60),
                        () -> store.find(id).orElseThrow().state() == JobState.SUCCEEDED);
                assertThat(second.terminate(Duration.ofSeconds(30))).isZero();
            }
            assertThat(store.events(id)).extracting(JobEvent::toState).containsExactly("queued", "running", "queued", "running", "succeeded");
        }
    }

    @Test
    void sigterm_lets_a_job_that_fits_in_the_grace_finish_before_the_runner_exits() throws Exception {
        Path started = home.resolve("started");
        Path agents = home.resolve("agents.json");
        Files.writeString(agents, Json.write(Map.of("short", Map.of("type", "command", "argv", List.of("sh", "-c",
                "touch " + started + "; sleep 2")))));
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "AGENTS_FILE", agents.toString(),
                "RUNNER_DRAIN_GRACE_SEC", "30");
        try (SqliteJobStore store = store(env)) {
            String id = enqueue(store, env, "short");
            try (OrchestratorProcess runner = OrchestratorProcess.start(home.resolve("r.out"), env, "runner", "--instance", "1")) {
                Waits.until("the step to start", Duration.ofSeconds(60), () -> Files.exists(started));
                assertThat(runner.terminate(Duration.ofSeconds(30))).as(runner.output()).isZero();
            }
            assertThat(store.find(id).orElseThrow().state()).as("finished during the drain").isEqualTo(JobState.SUCCEEDED);
        }
    }
}
