package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes: a gateway alone is not ready; a runner process makes it ready and shows in /runners;
 * SIGKILLed, the runner turns stale after RUNNER_STALE_SEC and /ready, the CLI and doctor say so.
 */
class RunnerVisibilityIT {
    private static final String TOKEN = "visibility-3f9a1c7e5b2d8a4f6e0c9b1d7a3e5f2c";

    @TempDir
    Path home;

    private final HttpClient http = HttpClient.newHttpClient();

    private record Answer(int status, JsonNode json) {
    }

    private Answer get(String base, String path, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), Json.parse(r.body()));
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private JsonNode runner(String base, long pid) {
        for (JsonNode r : get(base, "/runners", TOKEN).json().path("runners")) {
            if (r.path("pid").asLong() == pid) {
                return r;
            }
        }
        return null;
    }

    /** Runs a short CLI command to its end: its exit code; its output is added to {@code output}. */
    private static int run(Path out, Map<String, String> env, List<String> output, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx256m", "-jar", OrchestratorProcess.JAR.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("WEBHOOK_") || k.startsWith("ORCH_") || k.startsWith("HTTP_"));
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", args) + " did not end within 120 s");
        }
        output.add(java.nio.file.Files.readString(out));
        return p.exitValue();
    }

    @Test
    void a_gateway_started_with_no_runners_is_ready_without_any_runner() throws Exception {
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0", "WEBHOOK_TOKEN", TOKEN);
        try (OrchestratorProcess gateway = OrchestratorProcess.start(home.resolve("gateway.out"), env, "gateway", "--no-runners")) {
            String base = "http://127.0.0.1:" + gateway.awaitOutput("gateway ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(60));
            assertThat(get(base, "/ready", null).status()).isEqualTo(200);
            assertThat(gateway.terminate(Duration.ofSeconds(30))).isZero();
        }
    }

    @Test
    void sigkilled_runner_turns_stale_after_the_threshold_and_the_gateway_stops_being_ready() throws Exception {
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0", "WEBHOOK_TOKEN", TOKEN,
                "RUNNER_STALE_SEC", "3");
        try (OrchestratorProcess gateway = OrchestratorProcess.start(home.resolve("gateway.out"), env, "gateway")) {
            String base = "http://127.0.0.1:" + gateway.awaitOutput("gateway ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(60));
            Answer alone = get(base, "/ready", null);
            assertThat(alone.status()).as("no runner yet").isEqualTo(503);
            assertThat(alone.json().path("error").asText()).isEqualTo("no_live_runner");

            long pid;
            try (OrchestratorProcess runner = OrchestratorProcess.start(home.resolve("runner.out"), env, "runner", "--instance", "1")) {
                pid = runner.pid();
                Waits.until("the runner to show live in /runners", Duration.ofSeconds(60), () -> {
                    JsonNode r = runner(base, runner.pid());
                    return r != null && r.path("status").asText().equals("live");
                });
                JsonNode r = runner(base, pid);
                assertThat(r.path("runner_id").asText()).endsWith("/runner-1/" + pid);
                assertThat(r.path("slots").asInt()).isEqualTo(2);
                assertThat(r.path("running").asInt()).isZero();
                assertThat(get(base, "/ready", null).status()).isEqualTo(200);
                assertThat(get(base, "/health", null).json().path("runners").path("live").asInt()).isEqualTo(1);

                runner.kill();
            }
            long killed = System.nanoTime();
            Waits.until("the killed runner to show stale", Duration.ofSeconds(30),
                    () -> runner(base, pid).path("status").asText().equals("stale"));
            // its last beat was at most one beat interval (750 ms) before the kill
            assertThat(Duration.ofNanos(System.nanoTime() - killed)).isGreaterThan(Duration.ofMillis(2000));
            assertThat(runner(base, pid).path("heartbeat_age_seconds").asLong()).isGreaterThanOrEqualTo(3);
            Answer notReady = get(base, "/ready", null);
            assertThat(notReady.status()).isEqualTo(503);
            assertThat(notReady.json().path("error").asText()).isEqualTo("no_live_runner");
            assertThat(notReady.json().path("runners").path("stale").asInt()).isEqualTo(1);

            List<String> out = new ArrayList<>();
            assertThat(run(home.resolve("runners.out"), env, out, "runners", "--json")).as(out.toString()).isEqualTo(1);
            JsonNode listed = Json.parse(out.get(0).substring(out.get(0).indexOf('{')));
            assertThat(listed.path("counts").path("stale").asInt()).isEqualTo(1);
            assertThat(listed.path("runners").get(0).path("pid").asLong()).isEqualTo(pid);

            out.clear();
            run(home.resolve("doctor.out"), env, out, "doctor");
            assertThat(out.get(0)).containsPattern("FAIL  runners: no live runner takes jobs; stale .*" + pid);
        }
    }

    @Test
    void serve_is_ready_with_its_own_runner_and_marks_it_stopped_on_sigterm() throws Exception {
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0", "WEBHOOK_TOKEN", TOKEN);
        String base;
        long pid;
        try (OrchestratorProcess serve = OrchestratorProcess.start(home.resolve("serve.out"), env, "serve")) {
            base = "http://127.0.0.1:" + serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(60));
            pid = serve.pid();
            assertThat(get(base, "/ready", null).status()).as("serve counts its own runner").isEqualTo(200);
            assertThat(runner(base, pid).path("runner_id").asText()).endsWith("/serve/" + pid);
            assertThat(serve.terminate(Duration.ofSeconds(60))).isZero();
        }
        List<String> out = new ArrayList<>();
        assertThat(run(home.resolve("runners.out"), env, out, "runners")).isEqualTo(1);
        assertThat(out.get(0)).containsPattern("/serve/" + pid + " .* stopped ").contains("0 live, 0 stale, 1 stopped");
    }
}
