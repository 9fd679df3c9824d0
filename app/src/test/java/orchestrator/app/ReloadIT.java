package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGHUP reloads the gateway of a running `serve`: a new token works, the old one stops; a bad file changes nothing. */
class ReloadIT {
    private static final String OLD = "old-token-0123456789abcdef0123";
    private static final String NEW = "new-token-0123456789abcdef0123";

    @TempDir
    Path home;

    private final HttpClient http = HttpClient.newHttpClient();

    private int post(String base, String token) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"goal\": \"g\"}")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void sighup_swaps_the_gateways_tokens_and_a_bad_file_keeps_the_old_settings() throws Exception {
        Path file = home.resolve("orchestrator.env");
        Files.writeString(file, "ORCH_HOME=" + home + "\nHTTP_PORT=0\nWEBHOOK_TOKEN=" + OLD + "\n");
        try (OrchestratorProcess serve = OrchestratorProcess.start(home.resolve("serve.out"), Map.of(), "serve", "--config", file.toString())) {
            String base = "http://127.0.0.1:" + serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
            assertThat(serve.output()).as("a normal start handles SIGHUP").doesNotContain("SIGHUP is ignored");
            assertThat(post(base, OLD)).isEqualTo(202);
            assertThat(post(base, NEW)).isEqualTo(403);

            Files.writeString(file, "ORCH_HOME=" + home + "\nHTTP_PORT=0\nWEBHOOK_TOKEN=" + NEW + "\n");
            serve.hangup();
            Waits.until("the new token to be accepted", Duration.ofSeconds(20), () -> post(base, NEW) == 202);
            assertThat(post(base, OLD)).as("the old token after the reload").isEqualTo(403);
            assertThat(serve.output()).contains("configuration reloaded (SIGHUP): runner and gateway");

            Files.writeString(file, "ORCH_HOME=" + home + "\nHTTP_PORT=0\nWEBHOOK_TOKEN=" + OLD + "\nWEBHOOK_RATE_LIMIT_MAX_REQUESTS=lots\n");
            serve.hangup();
            serve.awaitOutput("SIGHUP: the new configuration is invalid, keeping the old one: WEBHOOK_RATE_LIMIT_MAX_REQUESTS", Duration.ofSeconds(20));
            assertThat(post(base, NEW)).as("the bad file changed nothing").isEqualTo(202);
            assertThat(post(base, OLD)).isEqualTo(403);
            assertThat(serve.terminate(Duration.ofSeconds(30))).isZero();
        }
    }

    @Test
    void a_process_started_with_sighup_ignored_says_that_a_reload_will_do_nothing() throws Exception {
        Path file = home.resolve("orchestrator.env");
        Files.writeString(file, "ORCH_HOME=" + home + "\n");
        try (OrchestratorProcess scheduler = OrchestratorProcess.nohup(home.resolve("scheduler.out"), Map.of(), "scheduler", "--config", file.toString())) {
            scheduler.awaitOutput("scheduler ready", Duration.ofSeconds(120));
            assertThat(scheduler.output()).contains("SIGHUP is ignored in this process (started under nohup?)");
            scheduler.hangup();
            assertThat(scheduler.terminate(Duration.ofSeconds(30))).as("SIGTERM still stops it cleanly").isZero();
        }
    }

    @Test
    void an_agent_added_to_the_agents_file_is_taken_at_intake_run_and_scheduled_after_a_reload() throws Exception {
        Path agents = home.resolve("agents.json");
        Files.writeString(agents, "{\"one\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo one\"]}}");
        Path schedules = Files.createDirectories(home.resolve("schedules"));
        Files.writeString(schedules.resolve("two.json"), "{\"id\": \"uses-two\", \"schedule\": \"0 3 * * *\", \"payload\": "
                + "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s\", \"agent\": \"two\", \"prompt\": \"p\"}]}}");
        Path file = home.resolve("orchestrator.env");
        Files.writeString(file, "ORCH_HOME=" + home + "\nHTTP_PORT=0\nWEBHOOK_TOKEN=" + OLD + "\nAGENTS_FILE=" + agents
                + "\nSCHEDULES_DIR=" + schedules + "\n");
        String job = "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s\", \"agent\": \"two\", \"prompt\": \"p\"}]}";
        try (OrchestratorProcess serve = OrchestratorProcess.start(home.resolve("serve.out"), Map.of(), "serve", "--config", file.toString());
             OrchestratorProcess scheduler = OrchestratorProcess.start(home.resolve("scheduler.out"), Map.of(), "scheduler", "--config", file.toString())) {
            String base = "http://127.0.0.1:" + serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
            scheduler.awaitOutput("schedule file .*two.json is broken and will not fire until fixed: .*unknown agent 'two'", Duration.ofSeconds(120));
            assertThat(postJob(base, job).statusCode()).as("an agent the file does not define").isEqualTo(400);

            Files.writeString(agents, "{\"one\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo one\"]}, "
                    + "\"two\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo two\"]}}");
            serve.hangup();
            scheduler.hangup();
            serve.awaitOutput("configuration reloaded \\(SIGHUP\\): runner and gateway", Duration.ofSeconds(20));
            HttpResponse<String> accepted = postJob(base, job);
            assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
            String id = orchestrator.core.Json.mapper().readTree(accepted.body()).path("job_id").asText();
            Waits.until("the job naming the new agent to succeed", Duration.ofSeconds(60), () -> status(base, id).equals("succeeded"));
            scheduler.awaitOutput("configuration reloaded \\(SIGHUP\\): scheduler", Duration.ofSeconds(20));
            scheduler.awaitOutput("schedule uses-two loaded from two.json", Duration.ofSeconds(20));
            assertThat(serve.terminate(Duration.ofSeconds(30))).isZero();
            assertThat(scheduler.terminate(Duration.ofSeconds(30))).isZero();
        }
    }

    private HttpResponse<String> postJob(String base, String body) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).header("Authorization", "Bearer " + OLD)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private String status(String base, String id) {
        try {
            String body = http.send(HttpRequest.newBuilder(URI.create(base + "/jobs/" + id)).header("Authorization", "Bearer " + OLD).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return orchestrator.core.Json.mapper().readTree(body).path("status").asText();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
