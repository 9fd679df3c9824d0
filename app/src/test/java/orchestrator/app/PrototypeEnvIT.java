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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.Json;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prototype's own .env.example (a copy written from its documented variables, with SANDBOX=1 and no
 * wrapper) starts `orchestrator serve --config` unchanged, says once which of its variables do nothing, and
 * runs the prototype's example payloads to success.
 */
class PrototypeEnvIT {
    static final Path FIXTURE = Path.of("src/test/resources/prototype/env.example");
    static final Path REFERENCE = Path.of("../../shared/reference");
    /** WEBHOOK_TOKEN of the fixture. */
    private static final String TOKEN = "change-me-3f9a1c7e5b2d4f6a8c0e1b3d";

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    private static String reference(String name) throws java.io.IOException {
        Path f = REFERENCE.resolve(name);
        Assumptions.assumeTrue(Files.exists(f), "shared/reference is not beside this clone: " + f.toAbsolutePath().normalize());
        return Files.readString(f);
    }

    /** Serve in {@code dir} (the fixture's paths are relative, as operators write them) on a free port. */
    private OrchestratorProcess serve(Path envFile) throws Exception {
        // HTTP_PORT is ours, not the prototype's: the environment sets it and the file stays as it is
        return OrchestratorProcess.startIn(dir, dir.resolve("serve.out"), Map.of("HTTP_PORT", "0"), "serve", "--config", envFile.toString());
    }

    private HttpResponse<String> post(String base, String body, String contentType) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode awaitFinal(String base, String id) {
        HttpRequest get = HttpRequest.newBuilder(URI.create(base + "/jobs/" + id)).header("Authorization", "Bearer " + TOKEN).build();
        JsonNode[] last = new JsonNode[1];
        Waits.until("job " + id + " to end", Duration.ofSeconds(60), () -> {
            try {
                last[0] = Json.parse(http.send(get, HttpResponse.BodyHandlers.ofString()).body());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return java.util.Set.of("succeeded", "failed", "cancelled").contains(last[0].path("status").asText());
        });
        return last[0];
    }

    @Test
    void the_prototypes_env_example_starts_serve_unchanged_and_names_its_no_effect_variables_in_one_warning() throws Exception {
        Path env = dir.resolve(".env");
        Files.copy(FIXTURE, env);
        assertThat(Files.mismatch(FIXTURE, env)).as("a verbatim copy").isEqualTo(-1L);
        assertThat(Files.readString(env)).contains("\nSANDBOX=1\n").contains("\nSANDBOX_WRAPPER=\n");
        try (OrchestratorProcess serve = serve(env)) {
            serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
            String out = serve.output();
            Matcher m = Pattern.compile("(?m)^.*have no effect here.*$").matcher(out);
            assertThat(m.find()).as(out).isTrue();
            String warning = m.group();
            assertThat(warning).contains("WARN").contains("QUEUE_ROOT", "RUNNER_POLL_INTERVAL_SEC", "RUNNER_RECLAIM_AFTER_SEC",
                    "SANDBOX_CLEAR_ENV", "NON_GIT_WORKDIR_STATUS");
            assertThat(m.find()).as("one warning, not one per variable").isFalse();
            assertThat(out).contains("SANDBOX=1 but SANDBOX_WRAPPER is not set");
            // the prototype's folder and database variables are where things went
            Waits.until("the store at STATE_DB_PATH", Duration.ofSeconds(10), () -> Files.exists(dir.resolve("var/state.db")));
            assertThat(serve.terminate(Duration.ofSeconds(30))).isZero();
        }
    }

    @Test
    void the_prototypes_example_payloads_run_to_success_under_its_env_file() throws Exception {
        String simple = reference("webhook_payload.simple.json");
        JsonNode schedulePayload = Json.parse(reference("schedule.every_minute.json")).get("payload");
        Path env = dir.resolve(".env");
        Files.copy(FIXTURE, env);
        try (OrchestratorProcess serve = serve(env)) {
            String base = "http://127.0.0.1:" + serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));

            HttpResponse<String> a = post(base, simple, "application/json");
            assertThat(a.statusCode()).as(a.body()).isEqualTo(202);
            assertThat(Json.parse(a.body()).path("ignored_fields")).extracting(JsonNode::asText).containsExactly("workdir");
            // and as its users send it: curl -d, which says application/x-www-form-urlencoded
            HttpResponse<String> b = post(base, Json.write(schedulePayload), "application/x-www-form-urlencoded");
            assertThat(b.statusCode()).as(b.body()).isEqualTo(202);

            for (HttpResponse<String> r : java.util.List.of(a, b)) {
                String id = Json.parse(r.body()).get("job_id").asText();
                JsonNode job = awaitFinal(base, id);
                assertThat(job.path("status").asText()).as(job.toString()).isEqualTo("succeeded");
                // ARTIFACTS_ROOT=./var/artifacts, relative to where the process runs
                assertThat(dir.resolve("var/artifacts").resolve(id).resolve("result.json")).exists();
            }
            assertThat(serve.terminate(Duration.ofSeconds(30))).isZero();
        }
    }
}
