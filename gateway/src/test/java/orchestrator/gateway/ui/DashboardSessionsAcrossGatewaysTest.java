package orchestrator.gateway.ui;

import static orchestrator.gateway.ui.DashboardClient.hidden;
import static orchestrator.gateway.ui.DashboardClient.page;
import static orchestrator.gateway.ui.DashboardClient.post;
import static orchestrator.gateway.ui.DashboardClient.signIn;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import orchestrator.core.SettableClock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.store.UiSession;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.RunningGateway;
import orchestrator.gateway.RunningGateway.Answer;
import orchestrator.gateway.ui.DashboardClient.Browser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dashboard sessions live in the store, not in a gateway: two real gateways on one SQLite file (what two hosts
 * behind a round-robin proxy are, on one store) serve one browser's session alike, a sign-out on one is a
 * sign-out on the other, a restarted gateway keeps the sign-ins, and a store that is down is a 503 page.
 */
class DashboardSessionsAcrossGatewaysTest {
    @TempDir
    Path home;
    private final List<RunningGateway> gateways = new ArrayList<>();

    @AfterEach
    void stop() {
        gateways.forEach(RunningGateway::close);
    }

    private RunningGateway gateway() {
        RunningGateway gw = new RunningGateway(home, Map.of());
        gateways.add(gw);
        return gw;
    }

    private long sessionRows() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("orchestrator.db"));
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM ui_sessions")) {
            return rs.getLong(1);
        }
    }

    @Test
    void a_session_signed_in_on_one_gateway_reads_and_acts_on_the_other_and_a_sign_out_there_ends_it_on_both() {
        RunningGateway a = gateway();
        RunningGateway b = gateway();
        assertThat(a.core.databasePath()).isEqualTo(b.core.databasePath());
        Browser browser = signIn(a, RunningGateway.ADMIN);

        Answer onB = page(b, "/ui/jobs", browser.cookie());
        assertThat(onB.status()).as("a page on the other gateway").isEqualTo(200);
        assertThat(hidden(onB.text())).as("the session's CSRF token, wherever it is served").isEqualTo(browser.csrf());

        Answer job = b.postJob(RunningGateway.ADMIN, "{\"goal\": \"cancel me\", \"project_id\": \"alpha\"}");
        String id = job.json().path("job_id").asText();
        assertThat(post(b, browser, "/ui/jobs/" + id + "/cancel", "_csrf=not-this-one").status())
                .as("a wrong CSRF token on the other gateway").isEqualTo(403);
        Answer cancel = post(b, browser, "/ui/jobs/" + id + "/cancel", "_csrf=" + browser.csrf());
        assertThat(cancel.status()).as(cancel.text()).isEqualTo(303);
        assertThat(a.store.find(id).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
        assertThat(a.store.events(id)).extracting(JobEvent::actor).contains("default");

        Answer out = post(b, browser, "/ui/logout", "_csrf=" + browser.csrf());
        assertThat(out.status()).isEqualTo(303);
        assertThat(out.header("Location")).isEqualTo("/ui/login");
        Answer refused = page(a, "/ui", browser.cookie());
        assertThat(refused.status()).as("signed out on B, so refused on A").isEqualTo(302);
        assertThat(refused.header("Location")).isEqualTo("/ui/login");
        assertThat(page(b, "/ui", browser.cookie()).status()).isEqualTo(302);
    }

    @Test
    void a_restarted_gateway_still_accepts_a_live_session_and_the_cookie_is_not_in_the_database() throws Exception {
        RunningGateway a = gateway();
        Browser browser = signIn(a, RunningGateway.ADMIN);
        a.close();
        gateways.remove(a);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("orchestrator.db"));
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT * FROM ui_sessions")) {
            assertThat(rs.next()).isTrue();
            for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
                assertThat(rs.getString(col)).as(rs.getMetaData().getColumnName(col))
                        .doesNotContain(browser.cookie()).doesNotContain(RunningGateway.ADMIN);
            }
        }

        RunningGateway restarted = gateway();
        Answer overview = page(restarted, "/ui", browser.cookie());
        assertThat(overview.status()).as("the same cookie after a restart").isEqualTo(200);
        assertThat(hidden(overview.text())).isEqualTo(browser.csrf());

        restarted.clock.advance(UiSession.LIFETIME.plusSeconds(1));
        assertThat(page(restarted, "/ui", browser.cookie()).status()).as("past the session's lifetime").isEqualTo(302);
    }

    @Test
    void a_token_removed_by_a_reload_signs_its_sessions_out_and_its_rows_are_deleted() throws Exception {
        RunningGateway a = gateway();
        RunningGateway b = gateway();
        Browser alpha = signIn(a, RunningGateway.ALPHA);
        Browser admin = signIn(a, RunningGateway.ADMIN);
        assertThat(sessionRows()).isEqualTo(2);
        Map<String, String> vars = new java.util.HashMap<>(Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0",
                "PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha") + ",beta=" + home.resolve("repos/beta"),
                "WEBHOOK_TOKEN", RunningGateway.ADMIN, "WEBHOOK_TOKENS", RunningGateway.BETA + "=beta"));
        Env env = new Env(vars);
        b.server.reload(GatewayConfig.from(env, CoreConfig.from(env)));

        assertThat(page(b, "/ui", alpha.cookie()).status()).as("its token is gone on B").isEqualTo(302);
        assertThat(sessionRows()).as("B deleted the session of the removed token").isEqualTo(1);
        assertThat(page(a, "/ui", alpha.cookie()).status()).as("so A, not reloaded yet, refuses it too").isEqualTo(302);
        assertThat(page(b, "/ui", admin.cookie()).status()).as("another token's session").isEqualTo(200);
    }

    @Test
    void a_store_that_is_down_is_a_503_page_saying_to_retry_not_a_500() {
        RunningGateway a = gateway();
        Browser browser = signIn(a, RunningGateway.ADMIN);
        a.store.close();
        for (String path : List.of("/ui", "/ui/jobs")) {
            Answer down = page(a, path, browser.cookie());
            assertThat(down.status()).as(path).isEqualTo(503);
            assertThat(down.header("Content-Type")).startsWith("text/html");
            assertThat(down.header("Retry-After")).isEqualTo("5");
            assertThat(down.text()).contains("job store is unavailable", "retry").doesNotContain("SQL", "orchestrator.db");
        }
        Answer action = post(a, browser, "/ui/logout", "_csrf=" + browser.csrf());
        assertThat(action.status()).isEqualTo(503);
        assertThat(action.header("Content-Type")).startsWith("text/html");
    }

    @Test
    void the_sweep_deletes_expired_rows_and_runs_on_after_a_round_that_failed() throws Exception {
        SettableClock clock = new SettableClock(java.time.Instant.parse("2026-01-31T09:00:00Z"));
        Path db = home.resolve("orchestrator.db");
        try (SqliteJobStore store = new SqliteJobStore(db, clock, Duration.ofSeconds(30), 3);
             UiSessions sessions = new UiSessions(store, Duration.ofMillis(20))) {
            for (int i = 0; i < 3; i++) {
                sessions.create(orchestrator.gateway.auth.ApiToken.unscoped("t", "secret-" + i));
            }
            clock.advance(Duration.ofHours(1));
            UiSessions.Session live = sessions.create(orchestrator.gateway.auth.ApiToken.unscoped("t", "secret-live"));
            assertThat(sessionRows()).isEqualTo(4);
            clock.advance(UiSession.IDLE.minusHours(1).plusMillis(1));
            RunningGateway.await(() -> {
                try {
                    return sessionRows() == 1;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, Duration.ofSeconds(20), "the sweep to delete the three expired sessions");
            assertThat(sessions.find(live.id)).isNotNull();

            store.close();
            long failed = sessions.failedSweeps();
            RunningGateway.await(() -> sessions.failedSweeps() >= failed + 2, Duration.ofSeconds(20),
                    "two failed rounds in a row: the sweep outlives a failure");
        }
    }
}
