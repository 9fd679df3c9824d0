package orchestrator.gateway.ui;

import static orchestrator.gateway.ui.DashboardClient.cookieValue;
import static orchestrator.gateway.ui.DashboardClient.hidden;
import static orchestrator.gateway.ui.DashboardClient.setCookie;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobEvent;
import orchestrator.gateway.RunningGateway;
import orchestrator.gateway.RunningGateway.Answer;
import orchestrator.gateway.ui.DashboardClient.Browser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's access rules over plain HTTP, against a real gateway: the sign-in form and its CSRF cookie,
 * the session cookie's flags, CSRF on every action, a scoped token's pages and counts, read-only tokens (here and
 * on the JSON API and the webhook), the Content-Security-Policy, and escaping of what a payload wrote.
 */
class DashboardAccessTest {
    static final String READER = "reader-token-0123456789abcdef";

    @TempDir
    Path home;
    private RunningGateway gw;

    @BeforeEach
    void start() {
        gw = new RunningGateway(home, Map.of("WEBHOOK_TOKENS", RunningGateway.ALPHA + "=alpha," + RunningGateway.BETA + "=beta,"
                + READER + "=*:ro"));
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    /** {@link DashboardClient}'s steps on this test's gateway. */
    private Browser signIn(String token) {
        return DashboardClient.signIn(gw, token);
    }

    private Answer page(String path, String session) {
        return DashboardClient.page(gw, path, session);
    }

    private Answer post(Browser b, String path, String form) {
        return DashboardClient.post(gw, b, path, form);
    }

    private String job(String token, String project, String goal) {
        Answer a = gw.postJob(token, "{\"goal\": \"" + goal + "\", \"project_id\": \"" + project + "\"}");
        assertThat(a.status()).as(a.text()).isEqualTo(202);
        return a.json().path("job_id").asText();
    }

    @Test
    void the_session_cookie_is_http_only_same_site_strict_holds_no_token_and_is_secure_behind_tls() {
        Answer form = gw.get("/ui/login", null);
        assertThat(setCookie(form, Dashboard.LOGIN_COOKIE)).contains("HttpOnly", "SameSite=Strict").doesNotContain("Secure");
        String csrf = hidden(form.text());
        Answer a = gw.send("POST", "/ui/login", null, "application/x-www-form-urlencoded",
                "token=" + RunningGateway.ADMIN + "&_csrf=" + csrf, "Cookie", Dashboard.LOGIN_COOKIE + "=" + cookieValue(form, Dashboard.LOGIN_COOKIE));
        String cookie = setCookie(a, Dashboard.SESSION_COOKIE);
        assertThat(cookie).contains("HttpOnly", "SameSite=Strict", "Path=/ui").doesNotContain("Secure")
                .doesNotContain(RunningGateway.ADMIN);
        assertThat(a.header("Location")).doesNotContain(RunningGateway.ADMIN);

        // over TLS at the proxy: the peer (loopback) is a trusted proxy, so its X-Forwarded-Proto is believed
        Answer tls = gw.send("GET", "/ui/login", null, null, null, "X-Forwarded-Proto", "https");
        assertThat(setCookie(tls, Dashboard.LOGIN_COOKIE)).contains("Secure");
        Answer signedTls = gw.send("POST", "/ui/login", null, "application/x-www-form-urlencoded",
                "token=" + RunningGateway.ADMIN + "&_csrf=" + hidden(tls.text()), "Cookie",
                Dashboard.LOGIN_COOKIE + "=" + cookieValue(tls, Dashboard.LOGIN_COOKIE), "X-Forwarded-Proto", "https");
        assertThat(setCookie(signedTls, Dashboard.SESSION_COOKIE)).contains("Secure", "HttpOnly", "SameSite=Strict");
    }

    @Test
    void sign_in_needs_the_forms_csrf_field_and_a_valid_token_and_pages_need_a_session() {
        Answer form = gw.get("/ui/login", null);
        String loginCookie = cookieValue(form, Dashboard.LOGIN_COOKIE);
        Answer noCsrf = gw.send("POST", "/ui/login", null, "application/x-www-form-urlencoded", "token=" + RunningGateway.ADMIN,
                "Cookie", Dashboard.LOGIN_COOKIE + "=" + loginCookie);
        assertThat(noCsrf.status()).isEqualTo(403);
        assertThat(noCsrf.headers()).doesNotContainKey("set-cookie");
        Answer wrong = gw.send("POST", "/ui/login", null, "application/x-www-form-urlencoded",
                "token=not-a-token-at-all-0123456&_csrf=" + hidden(form.text()), "Cookie", Dashboard.LOGIN_COOKIE + "=" + loginCookie);
        assertThat(wrong.status()).isEqualTo(303);
        assertThat(wrong.header("Location")).isEqualTo("/ui/login?error=1");
        assertThat(wrong.headers().getOrDefault("set-cookie", List.of())).noneMatch(c -> c.startsWith(Dashboard.SESSION_COOKIE + "="));

        for (String path : List.of("/ui", "/ui/jobs", "/ui/schedules", "/ui/runners")) {
            Answer a = gw.get(path, null);
            assertThat(a.status()).as(path).isEqualTo(302);
            assertThat(a.header("Location")).isEqualTo("/ui/login");
            assertThat(page(path, "made-up-session").status()).as(path).isEqualTo(302);
            // a bearer token is no way in: the dashboard is for sessions only
            assertThat(gw.get(path, RunningGateway.ADMIN).status()).isEqualTo(302);
        }
    }

    @Test
    void every_action_needs_this_sessions_csrf_token_and_runs_as_the_token() {
        Browser b = signIn(RunningGateway.ADMIN);
        String id = job(RunningGateway.ADMIN, "alpha", "cancel me");
        Answer none = post(b, "/ui/jobs/" + id + "/cancel", "");
        assertThat(none.status()).isEqualTo(403);
        Answer other = post(b, "/ui/jobs/" + id + "/cancel", "_csrf=" + signIn(RunningGateway.ADMIN).csrf());
        assertThat(other.status()).as("another session's CSRF token").isEqualTo(403);
        assertThat(gw.store.find(id).orElseThrow().state()).isEqualTo(JobState.QUEUED);

        Answer ok = post(b, "/ui/jobs/" + id + "/cancel", "_csrf=" + b.csrf());
        assertThat(ok.status()).as(ok.text()).isEqualTo(303);
        assertThat(ok.header("Location")).isEqualTo("/ui/jobs/" + id);
        assertThat(gw.store.find(id).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
        assertThat(gw.store.events(id)).extracting(JobEvent::actor).contains("default");
        // a second cancel is the API's 409, as a page
        assertThat(post(b, "/ui/jobs/" + id + "/cancel", "_csrf=" + b.csrf()).status()).isEqualTo(409);

        Answer logout = post(b, "/ui/logout", "");
        assertThat(logout.status()).as("sign-out needs the CSRF token too").isEqualTo(403);
        assertThat(post(b, "/ui/logout", "_csrf=" + b.csrf()).status()).isEqualTo(303);
        assertThat(page("/ui", b.cookie()).status()).as("signed out").isEqualTo(302);
    }

    @Test
    void a_scoped_token_sees_only_its_projects_on_every_page_and_in_every_count() {
        String alpha = job(RunningGateway.ADMIN, "alpha", "alpha work");
        String beta1 = job(RunningGateway.ADMIN, "beta", "beta secret one");
        job(RunningGateway.ADMIN, "beta", "beta secret two");
        Browser b = signIn(RunningGateway.ALPHA);
        Answer jobs = page("/ui/jobs", b.cookie());
        assertThat(jobs.text()).contains(alpha, "alpha work").doesNotContain(beta1, "beta secret");
        assertThat(page("/ui/jobs?q=secret", b.cookie()).text()).doesNotContain("beta secret");
        assertThat(page("/ui/jobs?project=beta", b.cookie()).status()).isEqualTo(403);
        assertThat(page("/ui/jobs/" + beta1, b.cookie()).status()).isEqualTo(404);
        assertThat(page("/ui/jobs/" + beta1 + "/logs", b.cookie()).status()).isEqualTo(404);
        assertThat(post(b, "/ui/jobs/" + beta1 + "/cancel", "_csrf=" + b.csrf()).status()).isEqualTo(404);
        // the overview counts one queued job (alpha's), not three
        Answer overview = page("/ui", b.cookie());
        assertThat(overview.text()).contains("<span class=\"n\" data-state=\"queued\">1</span>");
        Browser admin = signIn(RunningGateway.ADMIN);
        assertThat(page("/ui", admin.cookie()).text()).contains("<span class=\"n\" data-state=\"queued\">3</span>");
        // the schedules page lists alpha's schedule for alpha and none for beta
        assertThat(page("/ui/schedules", b.cookie()).text()).contains("data-schedule=\"nightly\"");
        assertThat(page("/ui/schedules", signIn(RunningGateway.BETA).cookie()).text()).doesNotContain("data-schedule=\"nightly\"");
    }

    @Test
    void a_read_only_token_reads_everything_but_changes_nothing_here_on_the_api_and_on_the_webhook() {
        String id = job(RunningGateway.ADMIN, "alpha", "look but do not touch");
        Browser b = signIn(READER);
        Answer detail = page("/ui/jobs/" + id, b.cookie());
        assertThat(detail.status()).isEqualTo(200);
        assertThat(detail.text()).contains("read-only").doesNotContain("/cancel\"");
        assertThat(post(b, "/ui/jobs/" + id + "/cancel", "_csrf=" + b.csrf()).status()).isEqualTo(403);
        assertThat(post(b, "/ui/schedules/nightly/pause", "_csrf=" + b.csrf()).status()).isEqualTo(403);

        assertThat(gw.get("/jobs/" + id, READER).status()).isEqualTo(200);
        Answer api = gw.send("POST", "/jobs/" + id + "/cancel", READER, null, null);
        assertThat(api.status()).isEqualTo(403);
        assertThat(api.error()).isEqualTo("read_only_token");
        assertThat(gw.send("POST", "/jobs/" + id + "/continue", READER, "application/json", "{\"prompt\": \"x\"}").status()).isEqualTo(403);
        assertThat(gw.send("POST", "/schedules/nightly/run", READER, null, null).status()).isEqualTo(403);
        Answer hook = gw.postJob(READER, "{\"goal\": \"g\", \"project_id\": \"alpha\"}");
        assertThat(hook.status()).isEqualTo(403);
        assertThat(hook.error()).isEqualTo("read_only_token");
        assertThat(gw.store.find(id).orElseThrow().state()).isEqualTo(JobState.QUEUED);
    }

    @Test
    void every_page_carries_a_strict_content_security_policy_and_escapes_what_a_payload_wrote() {
        String id = job(RunningGateway.ADMIN, "alpha", "<script>alert(1)</script>");
        Browser b = signIn(RunningGateway.ADMIN);
        for (String path : List.of("/ui", "/ui/jobs", "/ui/jobs/" + id, "/ui/schedules", "/ui/runners", "/ui/login")) {
            Answer a = page(path, b.cookie());
            assertThat(a.status()).as(path).isEqualTo(200);
            String csp = a.header("Content-Security-Policy");
            assertThat(csp).as(path).contains("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'")
                    .doesNotContain("unsafe-inline", "unsafe-eval");
            assertThat(a.header("X-Frame-Options")).isEqualTo("DENY");
            // no inline script: every <script> has a src, or is a JSON data block
            assertThat(Pattern.compile("<script(?![^>]*(src=|type=\"application/json\"))").matcher(a.text()).find()).as(path).isFalse();
            assertThat(a.text()).doesNotContain("<script>alert(1)</script>");
        }
        assertThat(page("/ui/jobs", b.cookie()).text()).contains("&lt;script&gt;alert(1)&lt;/script&gt;");
        for (String f : List.of("htmx.min.js", "uPlot.iife.min.js", "ui.js", "ui.css")) {
            assertThat(gw.get("/ui/assets/" + f, null).status()).as(f).isEqualTo(200);
        }
        assertThat(gw.get("/ui/assets/..%2Fui.js", null).status()).isEqualTo(404);
    }

    @Test
    void the_overview_counts_are_shared_for_a_second_refreshed_in_the_background_and_never_shown_long_stale() {
        job(RunningGateway.ADMIN, "alpha", "first");
        Browser b = signIn(RunningGateway.ADMIN);
        String one = "<span class=\"n\" data-state=\"queued\">1</span>";
        assertThat(page("/ui", b.cookie()).text()).contains(one);
        job(RunningGateway.ADMIN, "alpha", "second");
        assertThat(page("/ui", b.cookie()).text()).as("within the second: the shared snapshot").contains(one);
        gw.clock.advance(java.time.Duration.ofSeconds(2));
        RunningGateway.await(() -> page("/ui", b.cookie()).text().contains("<span class=\"n\" data-state=\"queued\">2</span>"),
                java.time.Duration.ofSeconds(10), "the refreshed count");
        job(RunningGateway.ADMIN, "alpha", "third");
        gw.clock.advance(java.time.Duration.ofSeconds(4));
        assertThat(page("/ui", b.cookie()).text()).as("after a quiet spell: read afresh, not shown stale")
                .contains("<span class=\"n\" data-state=\"queued\">3</span>");
    }

    @Test
    void ui_enabled_0_serves_no_dashboard() {
        gw.close();
        gw = new RunningGateway(home, Map.of("UI_ENABLED", "0"));
        assertThat(gw.get("/ui/login", null).status()).isEqualTo(404);
        assertThat(gw.get("/health", null).status()).isEqualTo(200);
    }
}
