package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's path: `scripts/orchestrator serve`, POST the example with the printed token, the job succeeds. */
class ServeIT {
    @TempDir
    Path home;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void readme_example_posted_to_serve_succeeds_with_all_artifacts() throws Exception {
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0");
        try (OrchestratorProcess serve = OrchestratorProcess.launcher(home.resolve("serve.out"), env, "serve")) {
            String port = serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
            Path tokenFile = home.resolve("dev-token");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
            String token = Files.readString(tokenFile).strip();
            assertThat(serve.output()).as("the generated token is printed once").contains(token);
            String base = "http://127.0.0.1:" + port;

            HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(base + "/webhook"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofFile(Path.of("../examples/job.json"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
            JsonNode accepted = Json.parse(posted.body());
            String id = accepted.get("job_id").asText();
            assertThat(accepted.get("status_url").asText()).endsWith("/jobs/" + id);

            HttpRequest get = HttpRequest.newBuilder(URI.create(base + "/jobs/" + id)).header("Authorization", "Bearer " + token).build();
            Waits.until("the job to succeed", Duration.ofSeconds(30), () -> {
                try {
                    return Json.parse(http.send(get, HttpResponse.BodyHandlers.ofString()).body()).get("status").asText().equals("succeeded");
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            JsonNode job = Json.parse(http.send(get, HttpResponse.BodyHandlers.ofString()).body());
            assertThat(job.get("steps")).hasSize(3);
            job.get("steps").forEach(s -> assertThat(s.get("status").asText()).isEqualTo("succeeded"));

            Path artifacts = home.resolve("artifacts").resolve(id);
            for (String f : new String[] {"job.json", "result.json", "report.md", "patch.diff", "logs.txt"}) {
                assertThat(artifacts.resolve(f)).exists();
            }
            for (String step : new String[] {"01_plan", "02_implement", "03_review"}) {
                for (String f : new String[] {"result.json", "report.md", "patch.diff", "logs.txt"}) {
                    assertThat(artifacts.resolve("steps").resolve(step).resolve(f)).exists();
                }
            }
            assertThat(Json.parse(Files.readString(artifacts.resolve("result.json"))).get("status").asText()).isEqualTo("success");
            assertThat(serve.terminate(Duration.ofSeconds(30))).isZero();
            assertThat(home.resolve("logs/orchestrator.log")).exists();
            assertThat(Files.readString(home.resolve("logs/orchestrator.log"))).doesNotContain(token);
        }
    }
}
