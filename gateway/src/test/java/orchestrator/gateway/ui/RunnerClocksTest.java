package orchestrator.gateway.ui;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.store.RunnerBeat;
import orchestrator.core.testing.TestPostgres;
import orchestrator.gateway.RunningGateway;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A runner host whose clock drifted, as a gateway on PostgreSQL shows it to an operator on any host: its offset in
 * {@code GET /runners}, the dashboard's runners page (marked past a second) and {@code /metrics}. On SQLite, where
 * every process shares one clock, none of it shows.
 */
class RunnerClocksTest {
    @TempDir
    Path home;
    private RunningGateway gw;

    @AfterEach
    void stop() {
        gw.close();
    }

    @Test
    void a_runner_host_3_s_ahead_of_the_database_shows_in_the_runner_list_the_dashboard_and_the_metrics() {
        TestPostgres pg = TestPostgres.shared();
        gw = new RunningGateway(home, Map.of("DATABASE_URL", pg.url(TestPostgres.databaseOf(pg.newDatabase()))));
        // the heartbeat is written from the gateway's clock: set it 3.2 s ahead of this machine's, which is the server's
        gw.clock.advance(Duration.between(gw.clock.instant(), Instant.now().plusMillis(3_200)));
        gw.store.runnerHeartbeat(new RunnerBeat("h2/runner-1/20", "h2", 20, "0.1.0", 2, List.of(), false, gw.clock.instant()));

        long skew = gw.get("/runners", RunningGateway.ADMIN).json().path("runners").get(0).path("clock_skew_ms").asLong();
        assertThat(skew).as("ahead by 3.2 s, less the write's latency").isBetween(2_700L, 3_200L);

        Answer page = DashboardClient.page(gw, "/ui/runners", DashboardClient.signIn(gw, RunningGateway.ADMIN).cookie());
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.text()).contains(">clock</th>").contains("<span class=\"badge rn-stale\">+" + skew + " ms</span>");

        Matcher m = Pattern.compile("(?m)^orchestrator_runner_clock_skew_seconds\\{host=\"h2\"\\} (\\S+)$").matcher(gw.get("/metrics", null).text());
        assertThat(m.find()).isTrue();
        assertThat(Double.parseDouble(m.group(1))).isEqualTo(skew / 1000.0);
    }

    @Test
    void on_sqlite_no_clock_shows_anywhere() {
        gw = new RunningGateway(home);
        gw.store.runnerHeartbeat(new RunnerBeat("h1/runner-1/10", "h1", 10, "0.1.0", 2, List.of(), false, gw.clock.instant()));
        assertThat(gw.get("/runners", RunningGateway.ADMIN).json().path("runners").get(0).path("clock_skew_ms").isNull()).isTrue();
        Answer page = DashboardClient.page(gw, "/ui/runners", DashboardClient.signIn(gw, RunningGateway.ADMIN).cookie());
        assertThat(page.text()).contains("h1/runner-1/10").doesNotContain(">clock</th>");
        assertThat(gw.get("/metrics", null).text()).contains("orchestrator_runner_slots").doesNotContain("orchestrator_runner_clock_skew_seconds");
    }
}
