package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.store.RunnerView;
import orchestrator.core.store.RunnerView.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A runner keeps its row in the store's runners table: registered at start, beating while it runs, stopped on close. */
class RunnerRegistrationTest {
    @TempDir
    Path tmp;

    private static RunnerView row(RunnerFixture f) {
        List<RunnerView> all = f.store.runners();
        assertThat(all).hasSize(1);
        return all.get(0);
    }

    @Test
    void started_runner_is_registered_before_start_returns_and_reports_its_running_job() throws Exception {
        Path go = tmp.resolve("go");
        String agents = "{\"waits\": {\"type\": \"command\", \"argv\": " + Json.write(List.of("sh", "-c",
                "while [ ! -e " + go + " ]; do sleep 0.05; done")) + "}}";
        // a 2 s threshold: beats every 500 ms
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("RUNNER_STALE_SEC", "2", "RUNNER_CONCURRENCY", "3"))) {
            f.start();
            RunnerView r = row(f);
            assertThat(r.runnerId()).isEqualTo("test-runner");
            assertThat(r.pid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(r.slots()).isEqualTo(3);
            assertThat(r.host()).isNotBlank();
            assertThat(r.version()).isNotBlank();
            assertThat(r.status(Instant.now(), f.core.runnerStaleAfter())).isEqualTo(Status.LIVE);

            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"waits\", \"prompt\": \"p\"}]}");
            RunnerFixture.await("the running job in the runner's row", () -> row(f).runningJobs().contains(id), Duration.ofSeconds(20));
            Instant beat = row(f).lastHeartbeat();
            RunnerFixture.await("a later heartbeat", () -> row(f).lastHeartbeat().isAfter(beat), Duration.ofSeconds(10));
            Files.createFile(go);
            RunnerFixture.await("the finished job to leave the row", () -> row(f).runningJobs().isEmpty(), Duration.ofSeconds(20));
        }
    }

    @Test
    void closed_runner_is_marked_stopped_not_stale() throws Exception {
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of("RUNNER_STALE_SEC", "2"))) {
            f.start();
            f.runner.close();
            RunnerView r = row(f);
            assertThat(r.stoppedAt()).isNotNull();
            assertThat(r.status(Instant.now().plusSeconds(3600), f.core.runnerStaleAfter())).isEqualTo(Status.STOPPED);
        }
    }
}
