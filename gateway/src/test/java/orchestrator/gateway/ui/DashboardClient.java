package orchestrator.gateway.ui;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.gateway.RunningGateway;
import orchestrator.gateway.RunningGateway.Answer;

/** What a browser does on a real gateway's dashboard over plain HTTP: sign in through the form, open pages, post forms. */
final class DashboardClient {
    private static final Pattern HIDDEN_CSRF = Pattern.compile("name=\"_csrf\" value=\"([^\"]+)\"");

    private DashboardClient() {
    }

    /** A signed-in browser: its session cookie and the CSRF token of its pages. */
    record Browser(String cookie, String csrf) {
    }

    /** Signs in with {@code token} through the form (its CSRF cookie and field), as a browser does, and opens the overview. */
    static Browser signIn(RunningGateway gw, String token) {
        Answer form = gw.get("/ui/login", null);
        assertThat(form.status()).isEqualTo(200);
        String loginCookie = cookieValue(form, Dashboard.LOGIN_COOKIE);
        Answer a = gw.send("POST", "/ui/login", null, "application/x-www-form-urlencoded",
                "token=" + token + "&_csrf=" + hidden(form.text()), "Cookie", Dashboard.LOGIN_COOKIE + "=" + loginCookie);
        assertThat(a.status()).as(a.text()).isEqualTo(303);
        assertThat(a.header("Location")).isEqualTo("/ui");
        String session = cookieValue(a, Dashboard.SESSION_COOKIE);
        Answer overview = page(gw, "/ui", session);
        assertThat(overview.status()).isEqualTo(200);
        return new Browser(session, hidden(overview.text()));
    }

    static Answer page(RunningGateway gw, String path, String session) {
        return gw.send("GET", path, null, null, null, "Cookie", Dashboard.SESSION_COOKIE + "=" + session);
    }

    static Answer post(RunningGateway gw, Browser b, String path, String form) {
        return gw.send("POST", path, null, "application/x-www-form-urlencoded", form, "Cookie", Dashboard.SESSION_COOKIE + "=" + b.cookie());
    }

    /** The value of the page's hidden {@code _csrf} field; fails when the page has none. */
    static String hidden(String html) {
        Matcher m = HIDDEN_CSRF.matcher(html);
        assertThat(m.find()).as("a _csrf field in " + html).isTrue();
        return m.group(1);
    }

    /** The whole Set-Cookie header of cookie {@code name}; fails when the answer sets none. */
    static String setCookie(Answer a, String name) {
        return a.headers().getOrDefault("set-cookie", List.of()).stream().filter(c -> c.startsWith(name + "=")).findFirst()
                .orElseThrow(() -> new AssertionError("no Set-Cookie " + name + " in " + a.headers()));
    }

    static String cookieValue(Answer a, String name) {
        String c = setCookie(a, name);
        return c.substring(name.length() + 1, c.indexOf(';'));
    }
}
