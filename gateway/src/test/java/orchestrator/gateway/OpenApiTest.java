package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import orchestrator.core.Json;
import orchestrator.core.store.Outcome;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenApiTest {
    @TempDir
    Path home;
    private RunningGateway gw;
    private JsonNode doc;

    @BeforeEach
    void start() {
        gw = new RunningGateway(home);
        Answer a = gw.get("/openapi.json", null);
        assertThat(a.status()).isEqualTo(200);
        doc = a.json();
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    /** "GET /jobs/{id}" for each operation of the document. */
    private Set<String> documented() {
        Set<String> out = new TreeSet<>();
        doc.path("paths").fields().forEachRemaining(p -> p.getValue().fieldNames()
                .forEachRemaining(m -> out.add(m.toUpperCase(java.util.Locale.ROOT) + " " + p.getKey())));
        return out;
    }

    @Test
    void every_route_the_server_serves_is_documented_and_every_documented_route_is_served() {
        Set<String> served = new TreeSet<>();
        for (String r : gw.server.servedRoutes()) {
            served.add(r.replace('<', '{').replace('>', '}'));
        }
        assertThat(doc.path("openapi").asText()).isEqualTo("3.1.0");
        // the dashboard's pages are declared like every route but left out of the document on purpose (HTML, not API)
        Set<String> dashboard = new TreeSet<>();
        for (ApiRoute r : gw.server.routes()) {
            if (r.auth() == ApiRoute.Auth.SESSION) {
                dashboard.add(r.method().name() + " " + r.openApiPath());
            }
        }
        assertThat(dashboard).allMatch(r -> r.substring(r.indexOf(' ') + 1).startsWith("/ui"))
                .contains("GET /ui", "GET /ui/login", "POST /ui/login", "GET /ui/jobs", "GET /ui/jobs/{id}",
                        "POST /ui/jobs/{id}/approve", "GET /ui/schedules", "GET /ui/runners");
        assertThat(documented()).doesNotContainAnyElementsOf(dashboard);
        Set<String> documentedOrDashboard = new TreeSet<>(documented());
        documentedOrDashboard.addAll(dashboard);
        assertThat(documentedOrDashboard).isEqualTo(served);
        assertThat(served).contains("GET /jobs", "GET /jobs/{id}/events", "POST /webhook", "GET /openapi.json", "GET /docs");
    }

    @Test
    void every_documented_route_answers_a_status_it_documents_for_it() throws Exception {
        String id = jobWithArtifacts();
        String idle = gw.postJob(ADMIN, "{\"goal\": \"g\", \"project_id\": \"alpha\"}").json().path("job_id").asText();
        // a live runner, so that /ready (which waits for one) and /runners have something to answer
        gw.store.runnerHeartbeat(new orchestrator.core.store.RunnerBeat("runner-1", "host", 1, "dev", 2, List.of(), false,
                gw.clock.instant()));
        List<String> checked = new ArrayList<>();
        for (String op : documented()) {
            String method = op.substring(0, op.indexOf(' '));
            String path = op.substring(op.indexOf(' ') + 1);
            JsonNode operation = doc.path("paths").path(path).path(method.toLowerCase(java.util.Locale.ROOT));
            // actions go to a job of their own so that the reads still see the finished one
            String url = path.replace("{id}", method.equals("POST") ? idle : id).replace("{path}", "result.json")
                    .replace("{file}", "swagger-ui.css").replace("{project}", "alpha");
            JsonNode example = operation.path("requestBody").path("content").path("application/json").path("example");
            Answer a = gw.send(method, url, needsToken(operation) ? ADMIN : null,
                    example.isMissingNode() ? null : "application/json", example.isMissingNode() ? null : Json.write(example));
            JsonNode documentedAnswer = operation.path("responses").path(String.valueOf(a.status()));
            assertThat(documentedAnswer.isMissingNode()).as(op + " answered " + a.status() + " " + a.text()).isFalse();
            if (method.equals("GET")) {
                assertThat(a.status()).as(op + ": a read of an existing job answers 200: " + a.text()).isEqualTo(200);
            }
            JsonNode schema = documentedAnswer.path("content").path("application/json").path("schema");
            if (!schema.isMissingNode()) {
                assertThat(a.header("Content-Type")).as(op).startsWith("application/json");
                assertThat(violations(schema, a.json())).as(op + " body " + a.text()).isEmpty();
            }
            if (needsToken(operation)) {
                Answer anonymous = gw.send(method, url, null, null, null);
                assertThat(anonymous.status()).as(op + " without a token").isEqualTo(401);
                assertThat(operation.path("responses").has("401")).as(op + " documents its 401").isTrue();
                assertThat(violations(operation.path("responses").path("401").path("content").path("application/json").path("schema"),
                        anonymous.json())).isEmpty();
            }
            checked.add(op);
        }
        assertThat(checked).hasSizeGreaterThanOrEqualTo(18);
        // the check has teeth: a listing whose job lacks its fields is caught through the $refs
        assertThat(violations(Json.parse("{\"$ref\": \"#/components/schemas/JobList\"}"),
                Json.parse("{\"jobs\": [{\"job_id\": \"x\"}], \"next_cursor\": null}"))).isNotEmpty();
    }

    private static boolean needsToken(JsonNode operation) {
        JsonNode security = operation.path("security");
        // no requirement, or an empty one among them (loopback /metrics): callable without a token
        for (JsonNode req : security) {
            if (req.isEmpty()) {
                return false;
            }
        }
        return !security.isEmpty();
    }

    /** A job of project alpha that ran and left a result.json, so every read has something to answer. */
    private String jobWithArtifacts() throws Exception {
        String id = gw.postJob(ADMIN, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"tags\": [\"t\"]}").json().path("job_id").asText();
        var lease = gw.store.lease("r", 1).get(0);
        assertThat(lease.jobId()).isEqualTo(id);
        gw.store.finish(lease, Outcome.succeeded(Map.of("status", "success"), 0.01, 10, 20));
        Path dir = gw.core.artifactsDir().resolve(id);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("result.json"), "{\"status\": \"success\"}");
        return id;
    }

    /** Validation messages of {@code body} against a response schema of the document (its $refs resolved in it). */
    private List<String> violations(JsonNode schema, JsonNode body) {
        ObjectNode root = Json.mapper().createObjectNode();
        root.put("$schema", "https://json-schema.org/draft/2020-12/schema");
        root.setAll((ObjectNode) schema.deepCopy());
        root.set("components", doc.path("components"));
        Set<ValidationMessage> found = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(root).validate(body);
        List<String> out = new ArrayList<>();
        found.forEach(m -> out.add(m.getMessage()));
        return out;
    }

    @Test
    void every_ref_in_the_document_resolves_and_the_job_payload_is_the_served_schema() {
        Set<String> refs = new HashSet<>();
        collectRefs(doc, refs);
        for (String ref : refs) {
            if (ref.startsWith("#/")) {
                assertThat(doc.at(ref.substring(1)).isMissingNode()).as(ref).isFalse();
            }
        }
        String payload = doc.at("/components/schemas/JobPayload/$ref").asText();
        assertThat(payload).isEqualTo("schema/job.json");
        // relative to the document's own URL, as OpenAPI 3.1 resolves it
        Answer schema = gw.get(java.net.URI.create("/openapi.json").resolve(payload).toString(), null);
        assertThat(schema.status()).isEqualTo(200);
        assertThat(schema.json().path("properties").has("goal")).isTrue();
        assertThat(doc.at("/paths/~1webhook/post/requestBody/content/application~1json/schema/$ref").asText())
                .isEqualTo("#/components/schemas/JobPayload");
    }

    private static void collectRefs(JsonNode n, Set<String> out) {
        if (n.isObject()) {
            if (n.has("$ref")) {
                out.add(n.get("$ref").asText());
            }
            for (Iterator<JsonNode> it = n.elements(); it.hasNext(); ) {
                collectRefs(it.next(), out);
            }
        } else if (n.isArray()) {
            n.forEach(e -> collectRefs(e, out));
        }
    }

    @Test
    void operation_ids_are_unique_and_every_operation_has_a_summary_and_answers() {
        Set<String> ids = new HashSet<>();
        doc.path("paths").fields().forEachRemaining(p -> p.getValue().fields().forEachRemaining(m -> {
            assertThat(ids.add(m.getValue().path("operationId").asText())).as(m.getKey() + " " + p.getKey()).isTrue();
            assertThat(m.getValue().path("summary").asText()).isNotBlank();
            assertThat(m.getValue().path("responses").size()).isPositive();
        }));
    }

    @Test
    void docs_page_is_swagger_ui_served_from_this_server_without_a_cdn() {
        Answer page = gw.get("/docs", null);
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.header("Content-Type")).startsWith("text/html");
        assertThat(page.text()).contains("SwaggerUIBundle").contains("/openapi.json").doesNotContain("://");

        Answer bundle = gw.get("/docs/swagger-ui-bundle.js", null);
        assertThat(bundle.status()).isEqualTo(200);
        assertThat(bundle.header("Content-Type")).startsWith("text/javascript");
        assertThat(bundle.text()).contains("SwaggerUIBundle");
        assertThat(gw.get("/docs/swagger-ui.css", null).status()).isEqualTo(200);

        assertThat(gw.get("/docs/nope.js", null).status()).isEqualTo(404);
        assertThat(gw.get("/docs/..%2F..%2Fpom.properties", null).status()).isEqualTo(404);
        assertThat(gw.get("/docs/.hidden", null).status()).isEqualTo(404);
    }
}
