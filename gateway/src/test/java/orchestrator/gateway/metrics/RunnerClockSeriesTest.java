package orchestrator.gateway.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import orchestrator.core.store.RunnerView;
import org.junit.jupiter.api.Test;

/** orchestrator_runner_clock_skew_seconds: per host, the live runner farthest off the server's clock. */
class RunnerClockSeriesTest {
    private static final Instant NOW = Instant.parse("2026-12-07T03:00:00Z");
    private static final Duration STALE = Duration.ofSeconds(60);

    private static RunnerView runner(String id, String host, Instant beat, Long skew) {
        return new RunnerView(id, host, 1, "0.1.0", 2, List.of(), false, beat, beat, null, skew);
    }

    @Test
    void each_host_shows_its_live_runner_farthest_off_and_stale_runners_and_sqlite_show_nothing() {
        StringBuilder b = new StringBuilder();
        Metrics.clockSkews(b, List.of(
                runner("h1/runner-1/1", "h1", NOW, 40L),
                runner("h1/runner-2/2", "h1", NOW, -2_500L),
                runner("h2/runner-1/3", "h2", NOW, 1_200L),
                runner("h3/runner-1/4", "h3", NOW.minusSeconds(600), 90_000L)), NOW, STALE);
        assertThat(b.toString()).isEqualTo("# HELP orchestrator_runner_clock_skew_seconds How far a runner host's clock was ahead of the"
                + " PostgreSQL server's (negative: behind) at its last heartbeat.\n"
                + "# TYPE orchestrator_runner_clock_skew_seconds gauge\n"
                + "orchestrator_runner_clock_skew_seconds{host=\"h1\"} -2.5\n"
                + "orchestrator_runner_clock_skew_seconds{host=\"h2\"} 1.2\n");
        StringBuilder sqlite = new StringBuilder();
        Metrics.clockSkews(sqlite, List.of(runner("h1/runner-1/1", "h1", NOW, null)), NOW, STALE);
        assertThat(sqlite.toString()).isEmpty();
    }
}
