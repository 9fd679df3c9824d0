package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: Debian's headless Chromium driven by Selenium through chromium-driver, against
 * {@code orchestrator serve} from the packaged jar (gateway, scheduler and runner pool, with command agents). Signs
 * in, sees a webhook's job appear live, follows its log to the end, opens its diff, approves a job and watches it
 * run, cancels a running one, pauses a schedule, is refused an action without its CSRF token, and checks that a
 * scoped token's pages show no other project's jobs. Writes a screenshot of each page under
 * {@code target/screenshots/}.
 */
@Tag("slow")
class DashboardBrowserIT {
    static final String ADMIN = "browser-admin-token-0123456789";
    static final String ALPHA = "browser-alpha-token-0123456789";
    static final Path SHOTS = Path.of("target/screenshots").toAbsolutePath();
    static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path home;
    @TempDir
    Path profile;

    private OrchestratorProcess serve;
    private WebDriver browser;
    private WebDriverWait wait;
    private String base;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        for (String p : List.of("alpha", "beta")) {
            Path repo = home.resolve("repos/" + p);
            Files.createDirectories(repo);
            Files.writeString(repo.resolve("README.md"), "# " + p + "\n");
            git(repo, "init", "-q");
            git(repo, "add", ".");
            git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first");
        }
        Path agents = home.resolve("agents.json");
        Files.writeString(agents, Json.write(Map.of(
                "writer", Map.of("type", "command", "argv", List.of("sh", "-c",
                        "for i in 1 2 3 4 5; do echo \"progress line $i\"; done; echo 'hello from the dashboard test' > NOTES.md")),
                "sleeper", Map.of("type", "command", "argv", List.of("sh", "-c", "echo started; sleep 600")))));
        Files.createDirectories(home.resolve("schedules"));
        Files.writeString(home.resolve("schedules/nightly.json"), "{\"id\": \"nightly\", \"schedule\": \"0 3 * * *\","
                + " \"payload\": {\"goal\": \"nightly sweep\", \"project_id\": \"alpha\", \"steps\": [{\"step_id\": \"s\", \"agent\": \"writer\", \"prompt\": \"write\"}]}}");
        Map<String, String> env = new HashMap<>();
        env.put("ORCH_HOME", home.toString());
        env.put("HTTP_PORT", "0");
        env.put("WEBHOOK_TOKEN", ADMIN);
        env.put("WEBHOOK_TOKENS", ALPHA + "=alpha");
        env.put("PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha") + ",beta=" + home.resolve("repos/beta"));
        env.put("AGENTS_FILE", agents.toString());
        env.put("SCHEDULES_DIR", home.resolve("schedules").toString());
        env.put("RUNNER_CONCURRENCY", "3");
        serve = OrchestratorProcess.start(home.resolve("serve.out"), env, "serve");
        base = "http://127.0.0.1:" + serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));

        ChromeOptions o = new ChromeOptions();
        o.setBinary("/usr/bin/chromium");
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1366,1000", "--user-data-dir=" + profile);
        // the driver named explicitly: Selenium Manager would otherwise try to download one
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new java.io.File("/usr/bin/chromedriver"))
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, o);
        // the job page replaces its live parts as states arrive: an element found by one poll may be gone by its
        // attribute read, which is a reason to poll again, not a failure
        wait = new WebDriverWait(browser, WAIT);
        wait.ignoring(org.openqa.selenium.StaleElementReferenceException.class);
        Files.createDirectories(SHOTS);
    }

    @AfterEach
    void stop() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (serve != null) {
            serve.close();
        }
    }

    @Test
    void an_operator_watches_steers_and_approves_jobs_in_the_dashboard() throws Exception {
        signIn(ADMIN);
        assertThat(browser.findElement(By.cssSelector("nav.top .who")).getText()).contains("default");

        // a webhook's job appears in the open jobs table without a reload
        browser.get(base + "/ui/jobs");
        String done = post(ADMIN, "{\"goal\": \"Write the notes\", \"project_id\": \"alpha\", \"tags\": [\"docs\"],"
                + " \"steps\": [{\"step_id\": \"write\", \"agent\": \"writer\", \"prompt\": \"write\"}]}");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-job='" + done + "']")));
        shot("jobs");

        // its log is followed to the end, then the diff and the report are on its page
        browser.findElement(By.cssSelector("tr[data-job='" + done + "'] a")).click();
        wait.until(ExpectedConditions.attributeToBe(By.id("log"), "data-ended", "succeeded"));
        assertThat(browser.findElement(By.id("log")).getText()).contains("progress line 1", "progress line 5");
        browser.navigate().refresh();
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#diff .add")));
        assertThat(browser.findElements(By.cssSelector("#diff .add")).stream().map(e -> e.getText()).toList())
                .contains("+hello from the dashboard test");
        // the runner's report.md, rendered: its heading and its table of steps
        assertThat(browser.findElement(By.cssSelector("#report h1")).getText()).isEqualTo("Job " + done);
        assertThat(browser.findElement(By.cssSelector("#report table")).getText()).contains("write", "writer", "succeeded");
        wait.until(ExpectedConditions.attributeToBe(By.id("log"), "data-ended", "succeeded"));
        fullShot("job-detail");

        // a job waiting for approval is approved in the page and runs to its end
        String gated = post(ADMIN, "{\"goal\": \"Needs a human yes\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true},"
                + " \"steps\": [{\"step_id\": \"write\", \"agent\": \"writer\", \"prompt\": \"write\"}]}");
        browser.get(base + "/ui/jobs/" + gated);
        assertThat(browser.findElement(By.id("job-live")).getAttribute("data-state")).isEqualTo("awaiting_approval");
        browser.findElement(By.cssSelector("form[action$='/approve'] button")).click();
        wait.until(ExpectedConditions.attributeToBe(By.id("job-live"), "data-state", "succeeded"));
        wait.until(ExpectedConditions.attributeToBe(By.id("log"), "data-ended", "succeeded"));
        assertThat(browser.findElement(By.id("log")).getText()).contains("progress line 5");

        // a running job is cancelled from its page
        String running = post(ADMIN, "{\"goal\": \"Runs until stopped\", \"project_id\": \"alpha\","
                + " \"steps\": [{\"step_id\": \"wait\", \"agent\": \"sleeper\", \"prompt\": \"wait\"}]}");
        browser.get(base + "/ui/jobs/" + running);
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("log"), "started"));
        browser.findElement(By.cssSelector("form[action$='/cancel'] button")).click();
        wait.until(ExpectedConditions.attributeToBe(By.id("job-live"), "data-state", "cancelled"));

        // an action whose form lost its CSRF token is refused, and changes nothing
        ((JavascriptExecutor) browser).executeScript("document.querySelector(\"form[action$='/retry'] input[name=_csrf]\").remove()");
        browser.findElement(By.cssSelector("form[action$='/retry'] button")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("main"), "CSRF"));
        assertThat(browser.findElement(By.cssSelector("main h1")).getText()).isEqualTo("403");
        browser.get(base + "/ui/jobs/" + running);
        assertThat(browser.findElement(By.id("job-live")).getAttribute("data-state")).isEqualTo("cancelled");

        // a schedule is paused
        browser.get(base + "/ui/schedules");
        browser.findElement(By.cssSelector("tr[data-schedule='nightly'] form[action$='/pause'] button")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("tr[data-schedule='nightly'] .badge"), "paused"));
        shot("schedules");
        // run now fires it once, paused or not, and opens the job it enqueued
        browser.findElement(By.cssSelector("tr[data-schedule='nightly'] form[action$='/run'] button")).click();
        wait.until(ExpectedConditions.attributeToBe(By.id("job-live"), "data-state", "succeeded"));
        assertThat(browser.findElement(By.cssSelector(".job-head .goal")).getText()).isEqualTo("nightly sweep");
        browser.get(base + "/ui/runners");
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("runners"), "live"));
        shot("runners");
        browser.get(base + "/ui");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#chart canvas")));
        wait.until(d -> counted() == 4); // done, gated, running and the schedule's run: every job so far
        shot("overview");

        // a token scoped to alpha sees none of beta's jobs, on any page or count
        String beta = post(ADMIN, "{\"goal\": \"Beta only business\", \"project_id\": \"beta\","
                + " \"steps\": [{\"step_id\": \"write\", \"agent\": \"writer\", \"prompt\": \"write\"}]}");
        signOut();
        signIn(ALPHA);
        browser.get(base + "/ui/jobs");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-job='" + done + "']")));
        assertThat(browser.getPageSource()).doesNotContain(beta).doesNotContain("Beta only business");
        browser.get(base + "/ui/jobs?q=Beta");
        assertThat(browser.getPageSource()).doesNotContain(beta);
        browser.get(base + "/ui/jobs/" + beta);
        assertThat(browser.findElement(By.cssSelector("main h1")).getText()).isEqualTo("404");
        browser.get(base + "/ui");
        // the overview polls: it shows the beta job to no one but an unscoped token, so alpha's count stays at its 4
        wait.until(d -> counted() == 4);
        assertThat(browser.findElement(By.id("overview")).getText()).doesNotContain("beta");
        shot("overview-scoped");
        signOut();
        signIn(ADMIN);
        wait.until(d -> counted() == 5);
    }

    /** The sum of the overview's state counts. */
    private long counted() {
        long shown = 0;
        for (var n : browser.findElements(By.cssSelector(".state-card .n"))) {
            shown += Long.parseLong(n.getText().replace(",", ""));
        }
        return shown;
    }

    private void signOut() {
        browser.findElement(By.cssSelector("form[action='/ui/logout'] button")).click();
        wait.until(ExpectedConditions.urlContains("/ui/login"));
    }

    private void signIn(String token) {
        browser.get(base + "/ui");
        wait.until(ExpectedConditions.urlContains("/ui/login"));
        shot("login");
        browser.findElement(By.id("token")).sendKeys(token);
        browser.findElement(By.cssSelector("form[action='/ui/login'] button")).click();
        wait.until(ExpectedConditions.presenceOfElementLocated(By.id("overview")));
        assertThat(browser.getCurrentUrl()).doesNotContain(token);
    }

    private String post(String token, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return Json.parse(r.body()).path("job_id").asText();
    }

    /** A screenshot of the whole page: the window is made as tall as the page for it, then put back. */
    private void fullShot(String name) {
        org.openqa.selenium.Dimension before = browser.manage().window().getSize();
        long height = (Long) ((JavascriptExecutor) browser).executeScript("return document.documentElement.scrollHeight");
        browser.manage().window().setSize(new org.openqa.selenium.Dimension(before.getWidth(), (int) Math.min(4000, height + 140)));
        shot(name);
        browser.manage().window().setSize(before);
    }

    private void shot(String name) {
        try {
            Path tmp = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
            Files.move(tmp, SHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void git(Path dir, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("git"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(0);
    }
}
