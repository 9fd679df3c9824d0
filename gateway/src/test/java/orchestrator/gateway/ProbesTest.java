package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import orchestrator.core.store.RunnerBeat;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProbesTest {
    @TempDir
    Path home;
    private RunningGateway gw;

    @BeforeEach
    void start() {
        gw = new RunningGateway(home);
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    @Test
    void health_needs_no_token_and_reports_uptime_from_the_clock() {
        gw.clock.advance(Duration.ofSeconds(42));
        Answer a = gw.get("/health", null);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("status").asText()).isEqualTo("ok");
        assertThat(a.json().path("version").asText()).isNotBlank();
        assertThat(a.json().path("uptime_seconds").asLong()).isEqualTo(42);
        assertThat(a.json().path("runners").path("live").asInt()).isZero();
        assertThat(a.json().size()).isEqualTo(4);
    }

    @Test
    void ready_follows_the_store() {
        gw.store.runnerHeartbeat(new RunnerBeat("r1", "h", 1, "v", 1, java.util.List.of(), false, gw.clock.instant()));
        Answer ok = gw.get("/ready", null);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.json().path("status").asText()).isEqualTo("ready");

        gw.store.close();
        Answer down = gw.get("/ready", null);
        assertThat(down.status()).isEqualTo(503);
        assertThat(down.error()).isEqualTo("not_ready");
        // liveness does not depend on the store
        assertThat(gw.get("/health", null).status()).isEqualTo(200);
    }
}
