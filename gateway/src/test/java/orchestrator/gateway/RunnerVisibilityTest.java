package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import orchestrator.core.store.RunnerBeat;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the gateway says about runners: GET /runners, /ready that needs a live one, the counts in /health and /metrics. */
class RunnerVisibilityTest {
    @TempDir
    Path home;
    private RunningGateway gw;

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
    }

    private RunningGateway start(Map<String, String> env) {
        gw = new RunningGateway(home, env);
        return gw;
    }

    private void beat(String id, Instant started, List<String> jobs, boolean draining) {
        gw.store.runnerHeartbeat(new RunnerBeat(id, "host-a", 4242, "1.2.3", 4, jobs, draining, started));
    }

    @Test
    void runners_lists_each_runner_with_its_heartbeat_age_and_status() {
        start(Map.of("RUNNER_STALE_SEC", "60"));
        beat("host-a/runner-1/4242", gw.clock.instant(), List.of(), false);
        gw.clock.advance(Duration.ofSeconds(50));
        beat("host-a/runner-2/4243", gw.clock.instant(), List.of("job-1"), false);
        gw.clock.advance(Duration.ofSeconds(15));

        Answer a = gw.get("/runners", ALPHA);
        assertThat(a.status()).isEqualTo(200);
        JsonNode rows = a.json().path("runners");
        assertThat(rows).hasSize(2);
        JsonNode first = rows.get(0);
        assertThat(first.path("runner_id").asText()).isEqualTo("host-a/runner-1/4242");
        assertThat(first.path("host").asText()).isEqualTo("host-a");
        assertThat(first.path("pid").asLong()).isEqualTo(4242);
        assertThat(first.path("version").asText()).isEqualTo("1.2.3");
        assertThat(first.path("slots").asInt()).isEqualTo(4);
        assertThat(first.path("status").asText()).isEqualTo("stale");
        assertThat(first.path("heartbeat_age_seconds").asLong()).isEqualTo(65);
        assertThat(first.path("last_heartbeat").asText()).isEqualTo("2026-01-31T09:00:00Z");
        JsonNode second = rows.get(1);
        assertThat(second.path("status").asText()).isEqualTo("live");
        assertThat(second.path("running").asInt()).isEqualTo(1);
        assertThat(second.has("running_jobs")).as("a scoped token does not see other projects' job ids").isFalse();
        assertThat(a.json().path("counts").path("live").asInt()).isEqualTo(1);
        assertThat(a.json().path("counts").path("stale").asInt()).isEqualTo(1);
        assertThat(a.json().path("stale_after_seconds").asLong()).isEqualTo(60);

        Answer admin = gw.get("/runners", ADMIN);
        assertThat(admin.json().path("runners").get(1).path("running_jobs").get(0).asText()).isEqualTo("job-1");
    }

    @Test
    void runners_needs_a_valid_token() {
        start(Map.of());
        assertThat(gw.get("/runners", null).status()).isEqualTo(401);
        assertThat(gw.get("/runners", "not-a-token-0123456789abcdef").status()).isEqualTo(403);
    }

    @Test
    void ready_is_503_while_no_runner_ever_registered() {
        start(Map.of());
        Answer a = gw.get("/ready", null);
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("no_live_runner");
        assertThat(a.json().path("message").asText()).contains("RUNNER_STALE_SEC", "READY_REQUIRES_RUNNER");
        assertThat(a.header("Retry-After")).isNotNull();
    }

    @Test
    void ready_is_200_with_a_live_runner_and_503_once_its_heartbeat_is_older_than_the_threshold() {
        start(Map.of("RUNNER_STALE_SEC", "30"));
        beat("r1", gw.clock.instant(), List.of(), false);
        assertThat(gw.get("/ready", null).status()).isEqualTo(200);

        gw.clock.advance(Duration.ofSeconds(31));
        Answer a = gw.get("/ready", null);
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("no_live_runner");
        assertThat(a.json().path("runners").path("stale").asInt()).isEqualTo(1);

        beat("r1", gw.clock.instant().minusSeconds(31), List.of(), false);
        assertThat(gw.get("/ready", null).status()).as("beating again").isEqualTo(200);
    }

    @Test
    void ready_does_not_count_a_draining_or_stopped_runner() {
        start(Map.of());
        Instant started = gw.clock.instant();
        beat("r1", started, List.of("job-1"), true);
        assertThat(gw.get("/ready", null).status()).isEqualTo(503);
        gw.store.runnerStopped("r1", started);
        assertThat(gw.get("/ready", null).status()).isEqualTo(503);
    }

    @Test
    void ready_is_200_without_runners_when_the_gateway_runs_alone_on_purpose() {
        start(Map.of("READY_REQUIRES_RUNNER", "0"));
        Answer a = gw.get("/ready", null);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("status").asText()).isEqualTo("ready");
    }

    @Test
    void health_carries_the_runner_counts() {
        start(Map.of("RUNNER_STALE_SEC", "30"));
        beat("old", gw.clock.instant(), List.of(), false);
        gw.clock.advance(Duration.ofSeconds(40));
        beat("new", gw.clock.instant(), List.of(), false);
        Instant stoppedStart = gw.clock.instant();
        beat("done", stoppedStart, List.of(), false);
        gw.store.runnerStopped("done", stoppedStart);

        Answer a = gw.get("/health", null);
        assertThat(a.status()).isEqualTo(200);
        JsonNode r = a.json().path("runners");
        assertThat(r.path("live").asInt()).isEqualTo(1);
        assertThat(r.path("stale").asInt()).isEqualTo(1);
        assertThat(r.path("stopped").asInt()).isEqualTo(1);
    }

    @Test
    void metrics_count_runners_by_state_and_the_slots_of_live_ones() {
        start(Map.of("RUNNER_STALE_SEC", "30"));
        beat("old", gw.clock.instant(), List.of(), false);
        gw.clock.advance(Duration.ofSeconds(40));
        beat("new", gw.clock.instant(), List.of("job-1"), false);

        String m = gw.get("/metrics", null).text();
        assertThat(m).contains("# TYPE orchestrator_runners gauge", "orchestrator_runners{state=\"live\"} 1",
                "orchestrator_runners{state=\"stale\"} 1", "orchestrator_runners{state=\"stopped\"} 0",
                "orchestrator_runner_slots{state=\"total\"} 4", "orchestrator_runner_slots{state=\"busy\"} 1");
    }
}
