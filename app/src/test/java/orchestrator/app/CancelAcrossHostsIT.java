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
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator cancels a running job through a gateway on another host than the one it was submitted to, while
 * the job runs on a third (each with an {@code ORCH_HOME} of its own, one PostgreSQL): the runner sees the
 * request at its next heartbeat and kills the step's process tree, the job ends {@code cancelled} for both
 * gateways, its log up to the cancel is served by either, and a second cancel answers 409 naming the state.
 */
class CancelAcrossHostsIT {
    private static final String TOKEN = "cancel-hosts-token-0123456789abcdef0";
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path root;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void a_job_cancelled_through_another_gateway_stops_on_its_runner_host() throws Exception {
        TestPostgres pg = TestPostgres.shared();
        String url = pg.url(TestPostgres.databaseOf(pg.newDatabase()));
        // a step that runs until it is killed, with a grandchild in the background
        Path agents = Files.writeString(root.resolve("agents.json"), Json.writePretty(Map.of(
                "slow", Map.of("type", "command", "argv", List.of("sh", "-c", "echo step started; sleep 300 & wait")))));
        Path project = Files.createDirectories(root.resolve("project"));
        Map<String, String> common = Map.of("DATABASE_URL", url, "WEBHOOK_TOKEN", TOKEN, "AGENTS_FILE", agents.toString(),
                "PROJECT_ALIASES", "proj=" + project, "LEASE_TTL_SEC", "6", "READY_REQUIRES_RUNNER", "0",
                "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0");
        try (Hosts hosts = new Hosts(root, common)) {
            String a = gateway(hosts, "gate-a");
            String b = gateway(hosts, "gate-b");
            OrchestratorProcess runner = hosts.start("run", Map.of(), "runner", "--instance", "1");

            HttpResponse<String> posted = send(a, "POST", "/webhook", "{\"goal\": \"run until cancelled\", \"project_id\": \"proj\","
                    + " \"steps\": [{\"step_id\": \"01_slow\", \"agent\": \"slow\", \"prompt\": \"wait\"}]}");
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
            String id = Json.parse(posted.body()).get("job_id").asText();
            Waits.until("the step's log to reach gateway B", WAIT,
                    () -> send(b, "GET", "/jobs/" + id + "/logs", null).body().contains("step started"));
            assertThat(ProcessScan.withEnv("ORCH_JOB_ID=" + id)).as("the step and its grandchild run on the runner host")
                    .hasSizeGreaterThanOrEqualTo(2);

            HttpResponse<String> cancel = send(b, "POST", "/jobs/" + id + "/cancel", "");
            assertThat(cancel.statusCode()).as(cancel.body()).isEqualTo(200);
            JsonNode ended = awaitStatus(a, id, "cancelled", hosts);
            Waits.until("no process of the cancelled step left", WAIT, () -> ProcessScan.withEnv("ORCH_JOB_ID=" + id).isEmpty());
            assertThat(ended.path("steps").get(0).path("status").asText()).as(ended.toString()).isEqualTo("cancelled");
            assertThat(Json.parse(send(b, "GET", "/jobs/" + id, null).body()).path("status").asText()).isEqualTo("cancelled");

            // what the step printed before the cancel stays readable through both gateways, neither of which ran it
            for (String gate : List.of(a, b)) {
                assertThat(send(gate, "GET", "/jobs/" + id + "/logs", null).body()).contains("step started");
            }
            HttpResponse<String> again = send(a, "POST", "/jobs/" + id + "/cancel", "");
            assertThat(again.statusCode()).as(again.body()).isEqualTo(409);
            assertThat(again.body()).contains("cancelled");
            assertThat(runner.isAlive()).as("the runner goes on after the cancel" + hosts.outputs(3000)).isTrue();
            assertThat(runner.terminate(WAIT)).isZero();
        }
    }

    private String gateway(Hosts hosts, String host) throws Exception {
        int port = Hosts.freePort();
        hosts.start(host, Map.of("HTTP_PORT", String.valueOf(port)), "gateway", "--no-runners").awaitOutput("gateway ready", WAIT);
        return "http://127.0.0.1:" + port;
    }

    private JsonNode awaitStatus(String base, String id, String status, Hosts hosts) {
        JsonNode[] last = {null};
        try {
            Waits.until("job " + id + " to be " + status, WAIT, () -> {
                last[0] = Json.parse(send(base, "GET", "/jobs/" + id, null).body());
                return last[0].path("status").asText().equals(status);
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last seen " + last[0] + hosts.outputs(4000), e);
        }
        return last[0];
    }

    private HttpResponse<String> send(String base, String method, String path, String body) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + TOKEN);
        if (body == null) {
            rb.GET();
        } else {
            rb.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
        }
        try {
            return http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
