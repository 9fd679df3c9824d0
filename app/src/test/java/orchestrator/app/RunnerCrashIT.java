package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import orchestrator.core.store.JobView;
import orchestrator.core.store.Lease;
import orchestrator.core.store.LeaseLostException;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A runner killed with SIGKILL mid-job: the job is leased again after its lease expires and completes. */
class RunnerCrashIT {
    @TempDir
    Path home;

    @Test
    void job_of_a_killed_runner_is_leased_again_and_completes_and_the_dead_lease_cannot_write() throws Exception {
        Path marks = Files.createDirectories(home.resolve("marks"));
        Path agents = home.resolve("agents.json");
        // first attempt: leaves a mark and hangs; second attempt: sees the mark and finishes
        Files.writeString(agents, Json.write(Map.of("once-hangs", Map.of("type", "command", "argv", List.of("sh", "-c",
                "if [ -e " + marks + "/{job_id} ]; then echo second attempt; else touch " + marks + "/{job_id}; exec sleep 600; fi")))));
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "AGENTS_FILE", agents.toString(),
                "RUNNER_CONCURRENCY", "1", "LEASE_TTL_SEC", "3");
        CoreConfig core = CoreConfig.from(new Env(env));
        try (SqliteJobStore store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts())) {
            String id = store.enqueue(new NewJob(core.agents().parser().parse(Json.parse(
                    "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"once-hangs\",\"prompt\":\"x\",\"timeout_sec\":900}]}")),
                    Source.of("api"), "test")).jobId();

            try (OrchestratorProcess first = OrchestratorProcess.start(home.resolve("r1.out"), env, "runner", "--instance", "1")) {
                Waits.until("the first attempt to start its step", Duration.ofSeconds(60), () -> Files.exists(marks.resolve(id)));
                first.kill();
            }
            assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.RUNNING);

            try (OrchestratorProcess second = OrchestratorProcess.start(home.resolve("r2.out"), env, "runner", "--instance", "2")) {
                Waits.until("the job to succeed on the second runner", Duration.ofSeconds(60),
                        () -> store.find(id).orElseThrow().state() == JobState.SUCCEEDED);
                // the orphan of the first attempt (its `sleep 600`) was killed when the job was leased again
                Waits.until("no process of the first attempt left", Duration.ofSeconds(20), () -> ProcessScan.withEnv("ORCH_JOB_ID=" + id).isEmpty());
                assertThat(second.terminate(Duration.ofSeconds(30))).isZero();
            }

            JobView v = store.find(id).orElseThrow();
            assertThat(v.attempt()).isEqualTo(2);
            // the transitions; audit records (no state) come between them wherever their writer got to
            assertThat(store.events(id)).filteredOn(e -> e.toState() != null).extracting(JobEvent::toState)
                    .containsExactly("queued", "running", "queued", "running", "succeeded");
            // the first attempt's `sleep 600` was killed once: by the new attempt as it started, or by the
            // orphan sweep if it came first (the job queued, or running under the second runner), never by both
            assertThat(store.events(id)).filteredOn(e -> e.toState() == null).extracting(JobEvent::reason)
                    .singleElement().asString().startsWith("killed 1 process(es) left by ");
            // the first lease had token 1: the dead runner's writes are refused
            Lease dead = new Lease(id, 1, "dead", 1, null, null, Source.of("api"), v.spec(), null);
            assertThatThrownBy(() -> store.finish(dead, Outcome.failed("x", "y", null, 0, 0, 0)))
                    .isInstanceOf(LeaseLostException.class);
            assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.SUCCEEDED);
        }
    }

    /**
     * The job of a SIGKILLed runner ends without being leased again (cancelled meanwhile, or out of lease
     * attempts): no runner would run its step again, so only the orphan sweep of another runner on the
     * host can end the step's processes.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"cancelled", "lease_lost"})
    void no_process_of_a_killed_runners_job_survives_its_cancel_or_lease_lost(String ending) throws Exception {
        Path started = home.resolve("started");
        Path agents = home.resolve("agents.json");
        // the step forks a grandchild in a session of its own, as a CLI's helper would, then hangs
        Files.writeString(agents, Json.write(Map.of("hangs", Map.of("type", "command", "argv", List.of("sh", "-c",
                "setsid sleep 600 & touch " + started + "; exec sleep 600")))));
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "AGENTS_FILE", agents.toString(),
                "RUNNER_CONCURRENCY", "1", "LEASE_TTL_SEC", "3", "MAX_LEASE_ATTEMPTS", "1");
        CoreConfig core = CoreConfig.from(new Env(env));
        try (SqliteJobStore store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts())) {
            String id = store.enqueue(new NewJob(core.agents().parser().parse(Json.parse(
                    "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"hangs\",\"prompt\":\"x\",\"timeout_sec\":900}]}")),
                    Source.of("api"), "test")).jobId();
            try (OrchestratorProcess first = OrchestratorProcess.start(home.resolve("r1.out"), env, "runner", "--instance", "1")) {
                Waits.until("the step to start", Duration.ofSeconds(60), () -> Files.exists(started));
                first.kill();
            }
            assertThat(ProcessScan.withEnv("ORCH_JOB_ID=" + id)).as("the dead runner's step and its grandchild").hasSizeGreaterThanOrEqualTo(2);
            if (ending.equals("cancelled")) {
                assertThat(store.cancel(id, "op").state()).isEqualTo(JobState.RUNNING); // requested; nobody sees it
            }
            try (OrchestratorProcess second = OrchestratorProcess.start(home.resolve("r2.out"), env, "runner", "--instance", "2")) {
                Waits.until("the job to end " + ending, Duration.ofSeconds(60), () -> store.find(id).orElseThrow().state().isFinal());
                JobView v = store.find(id).orElseThrow();
                assertThat(v.errorCode()).isEqualTo(ending);
                Waits.until("no process of job " + id + " left", Duration.ofSeconds(30), () -> ProcessScan.withEnv("ORCH_JOB_ID=" + id).isEmpty());
                // the sweep records what it killed once the kill rounds are over
                Waits.until("the kill to be in the audit trail", Duration.ofSeconds(10), () -> store.events(id).stream()
                        .anyMatch(e -> e.reason() != null && e.reason().startsWith("killed ") && e.reason().contains("left by runner")));
                assertThat(second.terminate(Duration.ofSeconds(30))).isZero();
            }
        }
    }
}
