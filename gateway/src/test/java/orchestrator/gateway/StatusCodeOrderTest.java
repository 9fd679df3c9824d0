package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN §4 in one walk: every status code of POST /webhook, in the order of the checks. Each request
 * also fails every later check, so the code it gets proves which check runs first.
 */
class StatusCodeOrderTest {
    private static final String TOO_BIG = "{\"goal\":\"" + "x".repeat(2000) + "\"}";
    private static final String NOT_JSON = "goal=fix";

    @TempDir
    Path home;
    private RunningGateway gw;

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
    }

    private Answer post(String token, String contentType, String body, String... headers) {
        return gw.send("POST", "/webhook", token, contentType, body, headers);
    }

    private static void is(Answer a, int status, String error) {
        assertThat(a.status()).as(a.text()).isEqualTo(status);
        assertThat(a.error()).as(a.text()).isEqualTo(error);
        assertThat(a.json().path("message").asText()).as("every error has a human message").isNotBlank();
    }

    @Test
    void webhook_answers_each_status_code_in_the_order_of_the_checks() {
        gw = new RunningGateway(home, Map.of("MAX_WEBHOOK_BODY_BYTES", "1000", "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "12"));

        // 401: no or malformed Authorization, whatever else is wrong
        is(post(null, "text/plain", TOO_BIG), 401, "unauthorized");
        is(post(null, "text/plain", TOO_BIG, "Authorization", "Basic YWRtaW46YWRtaW4="), 401, "unauthorized");
        // 403: an unknown token, before the body is looked at
        is(post("not-a-known-token-0123456789", "text/plain", TOO_BIG), 403, "forbidden");
        // 413: too big, before its content type and its JSON are looked at
        is(post(ADMIN, "text/plain", TOO_BIG), 413, "payload_too_large");
        // 415: not JSON by its content type, before its content is parsed
        is(post(ADMIN, "text/plain", NOT_JSON), 415, "unsupported_media_type");
        // 400 invalid_json before the schema
        is(post(ADMIN, "application/json", "{\"goal\": "), 400, "invalid_json");
        // 400 invalid_job (naming the field) before the project is looked up
        Answer invalid = post(ADMIN, "application/json", "{\"project_id\":\"nope\",\"steps\":[]}");
        is(invalid, 400, "invalid_job");
        assertThat(invalid.json().path("field").asText()).isNotBlank();
        is(post(ADMIN, "application/json", "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"rm -rf\",\"prompt\":\"p\"}]}"), 400, "invalid_job");
        // 400 unknown_project before the token's scope
        is(post(ALPHA, "application/json", "{\"goal\":\"g\",\"project_id\":\"nope\"}"), 400, "unknown_project");
        // 403 forbidden_project: a scoped token must name one of its projects
        is(post(ALPHA, "application/json", "{\"goal\":\"g\",\"project_id\":\"beta\"}"), 403, "forbidden_project");
        is(post(ALPHA, "application/json", "{\"goal\":\"g\"}"), 403, "forbidden_project");
        // 202, then 200 for the same idempotency key
        Answer first = post(ALPHA, "application/json", "{\"goal\":\"g\",\"project_id\":\"alpha\"}", "Idempotency-Key", "k-1");
        assertThat(first.status()).isEqualTo(202);
        Answer again = post(ALPHA, "application/json", "{\"goal\":\"g\",\"project_id\":\"alpha\"}", "Idempotency-Key", "k-1");
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().path("job_id").asText()).isEqualTo(first.json().path("job_id").asText());
        // 429 with Retry-After once this token and address used its budget, before size and type are checked
        Answer limited = null;
        for (int i = 0; i < 20 && (limited == null || limited.status() != 429); i++) {
            limited = post(ALPHA, "text/plain", TOO_BIG);
        }
        is(limited, 429, "rate_limited");
        assertThat(Long.parseLong(limited.header("Retry-After"))).isPositive();
        // 503 when the store cannot commit: never 202 for a job that is not stored
        gw.store.close();
        is(post(ADMIN, "application/json", "{\"goal\":\"g\"}"), 503, "store_unavailable");
    }

    @Test
    void job_routes_answer_401_403_404_409_and_200_by_scope_and_state() {
        gw = new RunningGateway(home, Map.of());
        String id = gw.postJob(ALPHA, "{\"goal\":\"g\",\"project_id\":\"alpha\"}").json().path("job_id").asText();
        is(gw.get("/jobs/" + id, null), 401, "unauthorized");
        is(gw.get("/jobs/" + id, "not-a-known-token-0123456789"), 403, "forbidden");
        Answer unknown = gw.get("/jobs/0123456789abcdef0123456789abcdef", ALPHA);
        Answer otherProject = gw.get("/jobs/" + id, RunningGateway.BETA);
        is(unknown, 404, "not_found");
        is(otherProject, 404, "not_found");
        assertThat(otherProject.json().path("message").asText().replace(id, "ID"))
                .as("another project's job reads exactly like a missing one")
                .isEqualTo(unknown.json().path("message").asText().replace("0123456789abcdef0123456789abcdef", "ID"));
        assertThat(gw.get("/jobs/" + id, ALPHA).status()).isEqualTo(200);
        assertThat(gw.send("POST", "/jobs/" + id + "/approve", ALPHA, null, null).status()).as("a queued job cannot be approved").isEqualTo(409);
        assertThat(gw.send("POST", "/jobs/" + id + "/cancel", RunningGateway.BETA, null, null).status()).isEqualTo(404);
        Answer cancelled = gw.send("POST", "/jobs/" + id + "/cancel", ALPHA, null, null);
        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().path("status").asText()).isEqualTo("cancelled");
        assertThat(gw.send("POST", "/jobs/" + id + "/cancel", ALPHA, null, null).status()).isEqualTo(409);
        assertThat(gw.send("POST", "/jobs/" + id + "/retry", ALPHA, null, null).status()).isEqualTo(200);
    }
}
