package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A runner configured by a --config file treats the file's values as it treats the environment's. Its tokens are
 * masked: before, the runner took the values to mask from its process environment only, so with a file an agent
 * that printed a token, or copied the file into its artifacts, had it served in the clear. And a variable of
 * ENV_ALLOWLIST that only the file sets reaches the steps.
 */
class ConfigFileRunnerIT {
    private static final String ADMIN = "admin-token-0123456789abcdef0123";
    private static final String CI = "ci-token-fedcba9876543210fedcba";

    @TempDir
    Path home;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void the_files_tokens_are_masked_in_the_log_and_in_a_file_the_agent_wrote_and_its_allowlisted_variables_reach_the_step() throws Exception {
        Path file = home.resolve("orchestrator.env");
        Path agents = home.resolve("agents.json");
        Files.writeString(agents, "{\"leak\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo the token is " + CI
                + "; echo the tool is in $TOOL_HOME; cp " + file + " {artifacts_dir}/copied.txt\"]}}");
        Files.writeString(file, "ORCH_HOME=" + home + "\nHTTP_PORT=0\nAGENTS_FILE=" + agents + "\nWEBHOOK_TOKENS=" + ADMIN + "=*," + CI + "=*\n"
                + "ENV_ALLOWLIST=PATH,HOME,TOOL_HOME\nTOOL_HOME=/opt/tool-from-the-file\n");
        try (OrchestratorProcess serve = OrchestratorProcess.start(home.resolve("serve.out"), Map.of(), "serve", "--config", file.toString())) {
            String base = "http://127.0.0.1:" + serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
            HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).header("Authorization", "Bearer " + ADMIN)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                            "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s\", \"agent\": \"leak\", \"prompt\": \"p\"}]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
            String id = Json.mapper().readTree(posted.body()).path("job_id").asText();
            Waits.until("the job to end", Duration.ofSeconds(60), () -> {
                String status = get(base, "/jobs/" + id).path("status").asText();
                return status.equals("succeeded") || status.equals("failed");
            });

            String log = text(base, "/jobs/" + id + "/artifacts/steps/s/logs.txt");
            assertThat(log).contains("the token is [REDACTED]").doesNotContain(CI);
            assertThat(log).as("an allowlisted variable of the file").contains("the tool is in /opt/tool-from-the-file");
            String copied = text(base, "/jobs/" + id + "/artifacts/copied.txt");
            assertThat(copied).contains("WEBHOOK_TOKENS=[REDACTED]").doesNotContain(CI).doesNotContain(ADMIN);
            // the prototype's secrets_check: a job whose files held a secret fails, naming the file
            JsonNode job = get(base, "/jobs/" + id);
            assertThat(job.path("status").asText()).isEqualTo("failed");
            assertThat(job.toString()).contains("copied.txt").doesNotContain(CI);
            assertThat(serve.terminate(Duration.ofSeconds(30))).isZero();
        }
    }

    private String text(String base, String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + ADMIN).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private JsonNode get(String base, String path) {
        try {
            return Json.mapper().readTree(text(base, path));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
