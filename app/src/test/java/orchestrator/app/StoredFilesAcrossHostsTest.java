package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.TestStoredFiles;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.GatewayServer;
import orchestrator.runner.Runner;
import orchestrator.runner.RunnerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two hosts that share no disk: a runner on one {@code ORCH_HOME}, a gateway on another that has no artifacts
 * folder at all, the stored files on one PostgreSQL database (each with a pool of its own, as two processes
 * have). The job store is one SQLite file outside both homes: the stored files do not depend on the job store,
 * and PostgresJobStore joins them when both branches meet. The gateway that never saw the runner's folder
 * streams the job's logs to the end while the step runs and serves its artifacts byte for byte as the runner's
 * folder holds them, and as a gateway reading that folder (the one-host way) answers.
 */
class StoredFilesAcrossHostsTest {
    static final String TOKEN = "admin-token-0123456789abcdef";
    static final String OTHER = "other-token-0123456789abcdef";

    @TempDir
    Path tmp;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Env env(Path home, Path agents) {
        Map<String, String> m = new HashMap<>();
        m.put("ORCH_HOME", home.toString());
        m.put("DATABASE_URL", "sqlite:" + tmp.resolve("shared/orchestrator.db"));
        m.put("AGENTS_FILE", agents.toString());
        m.put("HTTP_PORT", "0");
        m.put("WEBHOOK_TOKEN", TOKEN);
        m.put("WEBHOOK_TOKENS", OTHER + "=beta");
        m.put("PROJECT_ALIASES", "beta=" + tmp.resolve("beta"));
        m.put("LEASE_TTL_SEC", "5");
        return new Env(m);
    }

    private HttpResponse<byte[]> get(String base, String path, String token) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token)
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void a_gateway_on_another_home_follows_the_logs_to_the_end_and_serves_the_artifacts_byte_for_byte() throws Exception {
        Path go = tmp.resolve("go");
        Path agents = Files.writeString(tmp.resolve("agents.json"), "{\"ticker\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", "
                + "\"echo first-line; while [ ! -e " + go + " ]; do sleep 0.05; done; for i in 1 2 3; do echo line-$i; done;"
                + " printf no-newline-at-end\"]}, \"after\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo after-step\"]}}");
        Files.createDirectories(tmp.resolve("shared"));
        Path runnerHome = tmp.resolve("host-a");
        Path gatewayHome = tmp.resolve("host-b");
        Env runnerEnv = env(runnerHome, agents);
        Env gatewayEnv = env(gatewayHome, agents);
        CoreConfig runnerCore = CoreConfig.from(runnerEnv);
        CoreConfig gatewayCore = CoreConfig.from(gatewayEnv);
        Clock clock = Clock.systemUTC();
        try (TestStoredFiles runnerFiles = new TestStoredFiles(clock);
             TestStoredFiles gatewayFiles = TestStoredFiles.attach(runnerFiles.jdbcUrl(), clock);
             SqliteJobStore runnerStore = new SqliteJobStore(runnerCore.databasePath(), clock, runnerCore.leaseTtl(), 3);
             SqliteJobStore gatewayStore = new SqliteJobStore(gatewayCore.databasePath(), clock, gatewayCore.leaseTtl(), 3);
             Runner runner = new Runner(RunnerConfig.from(runnerEnv), runnerCore, runnerStore, clock, "host-a-runner",
                     Optional.of(runnerFiles.files()));
             GatewayServer remote = new GatewayServer(GatewayConfig.from(gatewayEnv, gatewayCore), gatewayCore, gatewayStore, clock,
                     null, Optional.of(gatewayFiles.files()));
             // the one-host way: a gateway reading the runner's own folder, to compare answers with
             GatewayServer local = new GatewayServer(GatewayConfig.from(runnerEnv, runnerCore), runnerCore, runnerStore, clock)) {
            String remoteUrl = "http://127.0.0.1:" + remote.start();
            String localUrl = "http://127.0.0.1:" + local.start();
            runner.start();

            HttpResponse<String> submitted = http.send(HttpRequest.newBuilder(URI.create(remoteUrl + "/webhook"))
                    .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"goal\": \"g\", \"steps\": ["
                            + "{\"step_id\": \"01_tick\", \"agent\": \"ticker\", \"prompt\": \"p\"},"
                            + "{\"step_id\": \"02_after\", \"agent\": \"after\", \"prompt\": \"p\"}]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(submitted.statusCode()).as(submitted.body()).isEqualTo(202);
            String id = Json.parse(submitted.body()).get("job_id").asText();

            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            CompletableFuture<HttpResponse<Void>> stream = http.sendAsync(
                    HttpRequest.newBuilder(URI.create(remoteUrl + "/jobs/" + id + "/logs?follow=1"))
                            .header("Authorization", "Bearer " + TOKEN).build(),
                    HttpResponse.BodyHandlers.fromLineSubscriber(new java.util.concurrent.Flow.Subscriber<String>() {
                        @Override
                        public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
                            s.request(Long.MAX_VALUE);
                        }

                        @Override
                        public void onNext(String line) {
                            lines.add(line);
                        }

                        @Override
                        public void onError(Throwable t) {
                            lines.add("error: " + t);
                        }

                        @Override
                        public void onComplete() {
                            lines.add("<closed>");
                        }
                    }));
            List<String> events = new ArrayList<>();
            // the agent waits for "go": its first line can only come through while it runs
            awaitEvent(lines, events, "first-line");
            assertThat(gatewayStore.find(id).orElseThrow().state().wire()).isEqualTo("running");
            Files.writeString(go, "");
            awaitEvent(lines, events, "event: end");
            String endData = nextLine(lines);
            assertThat(endData).isEqualTo("data: {\"status\":\"succeeded\"}");
            assertThat(stream.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);

            // every log line once, in order per step, the unterminated last one too (sent at the end, as on one host)
            List<String> logged = new ArrayList<>();
            for (String e : events) {
                if (e.startsWith("data: {\"step_id\"")) {
                    JsonNode n = Json.parse(e.substring("data: ".length()));
                    logged.add(n.get("step_id").asText() + ": " + n.get("line").asText());
                }
            }
            assertThat(logged.stream().filter(l -> l.startsWith("01_tick: ")).toList()).containsExactly("01_tick: first-line",
                    "01_tick: line-1", "01_tick: line-2", "01_tick: line-3", "01_tick: no-newline-at-end");
            assertThat(logged.stream().filter(l -> l.startsWith("02_after: ")).toList()).containsExactly("02_after: after-step");

            assertThat(gatewayCore.artifactsDir()).doesNotExist();
            Path folder = runnerCore.artifactsDir().resolve(id);
            for (String file : List.of("result.json", "report.md", "patch.diff", "logs.txt", "job.json", "state.json",
                    "steps/01_tick/logs.txt", "steps/01_tick/report.md", "steps/01_tick/result.json", "steps/02_after/logs.txt")) {
                HttpResponse<byte[]> r = get(remoteUrl, "/jobs/" + id + "/artifacts/" + file, TOKEN);
                assertThat(r.statusCode()).as(file).isEqualTo(200);
                assertThat(r.body()).as(file).isEqualTo(Files.readAllBytes(folder.resolve(file)));
                HttpResponse<byte[]> l = get(localUrl, "/jobs/" + id + "/artifacts/" + file, TOKEN);
                assertThat(r.headers().firstValue("Content-Type")).as(file).isEqualTo(l.headers().firstValue("Content-Type"));
            }
            // the listing names the same files with the same sizes as the one-host gateway's
            JsonNode remoteList = Json.parse(new String(get(remoteUrl, "/jobs/" + id + "/artifacts", TOKEN).body()));
            JsonNode localList = Json.parse(new String(get(localUrl, "/jobs/" + id + "/artifacts", TOKEN).body()));
            List<String> remoteFiles = new ArrayList<>();
            List<String> localFiles = new ArrayList<>();
            remoteList.get("artifacts").forEach(n -> remoteFiles.add(n.get("path").asText() + " " + n.get("size").asLong()));
            localList.get("artifacts").forEach(n -> localFiles.add(n.get("path").asText() + " " + n.get("size").asLong()));
            assertThat(remoteFiles).contains("result.json " + Files.size(folder.resolve("result.json")),
                    "steps/01_tick/logs.txt " + Files.size(folder.resolve("steps/01_tick/logs.txt")));
            assertThat(remoteFiles).isEqualTo(localFiles);
            // the whole logs, as the one-host gateway answers them
            HttpResponse<byte[]> plain = get(remoteUrl, "/jobs/" + id + "/logs", TOKEN);
            assertThat(plain.statusCode()).isEqualTo(200);
            assertThat(new String(plain.body())).isEqualTo(new String(get(localUrl, "/jobs/" + id + "/logs", TOKEN).body()));

            // the dashboard's job page on the host without the folder: report.md and the listing from the store's copy
            String session = dashboardSession(remoteUrl, TOKEN);
            HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(remoteUrl + "/ui/jobs/" + id))
                    .header("Cookie", "orch_ui=" + session).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
            assertThat(page.body()).contains("<h2>report.md</h2>", "id=\"artifacts\"",
                    "href=\"/ui/jobs/" + id + "/artifacts/steps/01_tick/logs.txt\"",
                    "href=\"/ui/jobs/" + id + "/artifacts/result.json\"").doesNotContain("None yet.");
            HttpResponse<byte[]> viaUi = http.send(HttpRequest.newBuilder(URI.create(remoteUrl + "/ui/jobs/" + id + "/artifacts/result.json"))
                    .header("Cookie", "orch_ui=" + session).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(viaUi.statusCode()).isEqualTo(200);
            assertThat(viaUi.body()).isEqualTo(Files.readAllBytes(folder.resolve("result.json")));

            // the same checks as on one host: no way out of the job, a missing file, another project's token
            for (String bad : List.of("../" + id + "/result.json", "steps/../result.json", "%2e%2e/x", "nothing.txt", "steps/01_tick")) {
                assertThat(get(remoteUrl, "/jobs/" + id + "/artifacts/" + bad, TOKEN).statusCode()).as(bad).isEqualTo(404);
            }
            assertThat(get(remoteUrl, "/jobs/" + id + "/artifacts/result.json", OTHER).statusCode()).isEqualTo(404);
            assertThat(get(remoteUrl, "/jobs/" + id + "/logs", OTHER).statusCode()).isEqualTo(404);
            assertThat(get(remoteUrl, "/jobs/" + id + "/logs?follow=1", OTHER).statusCode()).isEqualTo(404);
        }
    }

    /** Signs in to the dashboard at {@code url} with {@code token} as a browser does; returns the session cookie's value. */
    private String dashboardSession(String url, String token) throws Exception {
        HttpResponse<String> form = http.send(HttpRequest.newBuilder(URI.create(url + "/ui/login")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(form.statusCode()).isEqualTo(200);
        String login = cookie(form, "orch_ui_login");
        java.util.regex.Matcher csrf = java.util.regex.Pattern.compile("name=\"_csrf\" value=\"([^\"]+)\"").matcher(form.body());
        assertThat(csrf.find()).as(form.body()).isTrue();
        HttpResponse<String> signedIn = http.send(HttpRequest.newBuilder(URI.create(url + "/ui/login"))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", "orch_ui_login=" + login)
                .POST(HttpRequest.BodyPublishers.ofString("token=" + token + "&_csrf=" + csrf.group(1))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(signedIn.statusCode()).as(signedIn.body()).isEqualTo(303);
        return cookie(signedIn, "orch_ui");
    }

    private static String cookie(HttpResponse<?> r, String name) {
        return r.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith(name + "="))
                .map(c -> c.substring(name.length() + 1, c.indexOf(';'))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " cookie in " + r.headers().allValues("Set-Cookie")));
    }

    private static String nextLine(BlockingQueue<String> lines) throws InterruptedException {
        String l = lines.poll(30, TimeUnit.SECONDS);
        if (l == null) {
            fail("the log stream said nothing for 30 s");
        }
        return l;
    }

    /** Reads the stream into {@code events} until a line holding {@code text}. */
    private static void awaitEvent(BlockingQueue<String> lines, List<String> events, String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String l = lines.poll(1, TimeUnit.SECONDS);
            if (l == null) {
                continue;
            }
            events.add(l);
            if (l.contains(text)) {
                return;
            }
            if (l.equals("<closed>") || l.startsWith("error: ")) {
                fail("the stream ended before '" + text + "': " + events);
            }
        }
        fail("no '" + text + "' in the stream within 60 s: " + events);
    }
}
