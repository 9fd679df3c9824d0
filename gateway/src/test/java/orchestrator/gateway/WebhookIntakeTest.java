package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static orchestrator.gateway.RunningGateway.BETA;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WebhookIntakeTest {
    private static final String ALPHA_JOB = "{\"goal\": \"fix the build\", \"project_id\": \"alpha\"}";
    private static final String BETA_JOB = "{\"goal\": \"fix the build\", \"project_id\": \"beta\"}";

    @TempDir
    Path home;
    private RunningGateway gw;

    private RunningGateway start(Map<String, String> env) {
        gw = new RunningGateway(home, env);
        return gw;
    }

    private RunningGateway start() {
        return start(Map.of());
    }

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
    }

    @Test
    void reference_payload_is_accepted_unchanged_and_committed_before_the_answer() {
        start();
        Answer a = gw.postJob(ADMIN, RunningGateway.referencePayload());

        assertThat(a.status()).isEqualTo(202);
        String id = a.json().path("job_id").asText();
        assertThat(id).matches("[0-9a-f]{32}");
        assertThat(a.json().path("status").asText()).isEqualTo("queued");
        assertThat(a.json().path("status_url").asText()).isEqualTo("/jobs/" + id);
        assertThat(a.json().has("project")).isTrue();
        assertThat(a.json().get("project").isNull()).isTrue();
        JobView job = gw.store.find(id).orElseThrow();
        assertThat(job.state()).isEqualTo(JobState.QUEUED);
        assertThat(job.spec().goal()).startsWith("Webhook-triggered job");
        assertThat(job.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "03_review");
        assertThat(job.source().type()).isEqualTo("webhook");
        assertThat(job.source().meta()).containsEntry("remote_addr", "127.0.0.1");
    }

    @Test
    void missing_or_malformed_authorization_is_401() {
        start();
        assertThat(gw.send("POST", "/webhook", null, "application/json", ALPHA_JOB).status()).isEqualTo(401);
        Answer basic = gw.send("POST", "/webhook", null, "application/json", ALPHA_JOB, "Authorization", "Basic YTpi");
        assertThat(basic.status()).isEqualTo(401);
        assertThat(basic.error()).isEqualTo("unauthorized");
        assertThat(basic.json().path("message").asText()).isNotBlank();
        assertThat(basic.header("WWW-Authenticate")).isEqualTo("Bearer");
        assertThat(gw.send("POST", "/webhook", null, "application/json", ALPHA_JOB, "Authorization", "Bearer ").status())
                .isEqualTo(401);
    }

    @Test
    void unknown_token_is_403_before_the_content_type_is_looked_at() {
        start();
        Answer a = gw.send("POST", "/webhook", "not-a-known-token-at-all", "text/plain", "hello");
        assertThat(a.status()).isEqualTo(403);
        assertThat(a.error()).isEqualTo("forbidden");
        assertThat(a.text()).doesNotContain("not-a-known-token-at-all");
    }

    @Test
    void oversized_body_with_a_bad_token_is_403_not_413() {
        start(Map.of("MAX_WEBHOOK_BODY_BYTES", "1024"));
        String big = "{\"goal\": \"" + "x".repeat(4000) + "\"}";
        assertThat(gw.postJob("wrong-token-0123456789", big).status()).isEqualTo(403);
    }

    @Test
    void body_over_the_limit_is_413() {
        start(Map.of("MAX_WEBHOOK_BODY_BYTES", "1024"));
        Answer a = gw.postJob(ADMIN, "{\"goal\": \"" + "x".repeat(4000) + "\"}");
        assertThat(a.status()).isEqualTo(413);
        assertThat(a.error()).isEqualTo("payload_too_large");
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).isEmpty();
    }

    @Test
    void declared_length_over_the_limit_is_refused_before_the_body_arrives() throws Exception {
        start(Map.of("MAX_WEBHOOK_BODY_BYTES", "1024"));
        // claims 50 MB but sends 11 bytes: answering proves we did not wait for the body
        Answer a = gw.raw("POST /webhook HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + ADMIN
                + "\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n",
                "{\"goal\":\"x\"".getBytes(StandardCharsets.UTF_8));
        assertThat(a.status()).isEqualTo(413);
        assertThat(a.error()).isEqualTo("payload_too_large");
    }

    @Test
    void chunked_body_over_the_limit_is_413() throws Exception {
        start(Map.of("MAX_WEBHOOK_BODY_BYTES", "1024"));
        StringBuilder chunks = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            chunks.append("400\r\n").append("x".repeat(1024)).append("\r\n");
        }
        chunks.append("0\r\n\r\n");
        Answer a = gw.raw("POST /webhook HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + ADMIN
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                chunks.toString().getBytes(StandardCharsets.US_ASCII));
        assertThat(a.status()).isEqualTo(413);
        assertThat(a.error()).isEqualTo("payload_too_large");
    }

    @Test
    void chunked_body_under_the_limit_is_accepted() throws Exception {
        start();
        byte[] json = ALPHA_JOB.getBytes(StandardCharsets.UTF_8);
        String body = Integer.toHexString(json.length) + "\r\n" + ALPHA_JOB + "\r\n0\r\n\r\n";
        Answer a = gw.raw("POST /webhook HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + ALPHA
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                body.getBytes(StandardCharsets.UTF_8));
        assertThat(a.status()).isEqualTo(202);
    }

    @Test
    void content_type_other_than_json_is_415() {
        start();
        Answer a = gw.send("POST", "/webhook", ADMIN, "text/plain", ALPHA_JOB);
        assertThat(a.status()).isEqualTo(415);
        assertThat(a.error()).isEqualTo("unsupported_media_type");
        assertThat(gw.send("POST", "/webhook", ADMIN, null, ALPHA_JOB).status()).isEqualTo(415);
        assertThat(gw.send("POST", "/webhook", ADMIN, "application/jsonx", ALPHA_JOB).status()).isEqualTo(415);
    }

    @Test
    void json_content_type_with_parameters_or_a_json_suffix_is_accepted() {
        start();
        assertThat(gw.send("POST", "/webhook", ADMIN, "application/json; charset=utf-8", ALPHA_JOB).status()).isEqualTo(202);
        assertThat(gw.send("POST", "/webhook", ADMIN, "Application/JSON", ALPHA_JOB).status()).isEqualTo(202);
        assertThat(gw.send("POST", "/webhook", ADMIN, "application/vnd.orchestrator.job+json", ALPHA_JOB).status()).isEqualTo(202);
    }

    @Test
    void body_that_is_not_json_is_400_invalid_json() {
        start();
        Answer a = gw.postJob(ADMIN, "{\"goal\": ");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.error()).isEqualTo("invalid_json");
        assertThat(gw.postJob(ADMIN, "{\"goal\": \"x\"} trailing").error()).isEqualTo("invalid_json");
        assertThat(gw.postJob(ADMIN, "").error()).isEqualTo("invalid_json");
        assertThat(gw.postJob(ADMIN, "[".repeat(200) + "]".repeat(200)).error()).isEqualTo("invalid_json");
    }

    @Test
    void invalid_job_names_the_field() {
        start();
        Answer a = gw.postJob(ADMIN, "{\"goal\": \"x\", \"steps\": [{\"step_id\": \"a\", \"agent\": \"rm-rf\", \"prompt\": \"p\"}]}");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.error()).isEqualTo("invalid_job");
        assertThat(a.json().path("field").asText()).startsWith("steps[0]");
        assertThat(a.json().path("message").asText()).startsWith(a.json().path("field").asText());

        Answer noGoal = gw.postJob(ADMIN, "{\"project_id\": \"alpha\"}");
        assertThat(noGoal.error()).isEqualTo("invalid_job");
        assertThat(noGoal.json().path("field").asText()).isEqualTo("goal");
    }

    @Test
    void unknown_project_is_400_even_for_a_scoped_token() {
        start();
        Answer a = gw.postJob(ALPHA, "{\"goal\": \"x\", \"project_id\": \"nope\"}");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.error()).isEqualTo("unknown_project");
        assertThat(gw.postJob(ADMIN, "{\"goal\": \"x\", \"project_id\": \"nope\"}").error()).isEqualTo("unknown_project");
    }

    @Test
    void scoped_token_cannot_enqueue_into_another_project() {
        start();
        Answer a = gw.postJob(ALPHA, BETA_JOB);
        assertThat(a.status()).isEqualTo(403);
        assertThat(a.error()).isEqualTo("forbidden_project");
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).isEmpty();
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
    }

    @Test
    void scoped_token_must_name_a_project() {
        start();
        Answer a = gw.postJob(ALPHA, "{\"goal\": \"x\"}");
        assertThat(a.status()).isEqualTo(403);
        assertThat(a.error()).isEqualTo("forbidden_project");
        assertThat(a.json().path("message").asText()).contains("project_id").contains("alpha").doesNotContain("beta");
    }

    @Test
    void repeated_idempotency_key_answers_200_with_the_first_job() {
        start();
        Answer first = gw.postJob(ALPHA, ALPHA_JOB, "Idempotency-Key", "deploy-42");
        Answer again = gw.postJob(ALPHA, "{\"goal\": \"something else\", \"project_id\": \"alpha\"}", "Idempotency-Key", "deploy-42");

        assertThat(first.status()).isEqualTo(202);
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json()).isEqualTo(first.json());
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).hasSize(1);
    }

    @Test
    void repeated_idempotency_key_field_answers_200_with_the_first_job() {
        start();
        String body = "{\"goal\": \"x\", \"project_id\": \"alpha\", \"idempotency_key\": \"k1\"}";
        Answer first = gw.postJob(ADMIN, body);
        Answer again = gw.postJob(ADMIN, body);
        assertThat(first.status()).isEqualTo(202);
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().path("job_id").asText()).isEqualTo(first.json().path("job_id").asText());
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).hasSize(1);
    }

    @Test
    void audit_log_names_the_token_never_its_value() {
        start();
        String admins = gw.postJob(ADMIN, ALPHA_JOB).json().path("job_id").asText();
        String alphas = gw.postJob(ALPHA, ALPHA_JOB).json().path("job_id").asText();

        assertThat(gw.store.events(admins)).extracting(e -> e.actor()).containsExactly("default");
        assertThat(gw.store.events(alphas)).singleElement().satisfies(e -> {
            assertThat(e.actor()).matches("token-[0-9a-f]{8}");
            assertThat(e.actor()).isNotEqualTo(ALPHA).doesNotContain(ALPHA.substring(0, 8));
            assertThat(e.reason()).doesNotContain(ALPHA);
        });
    }

    @Test
    void closed_store_answers_503_and_never_202() {
        start();
        gw.store.close();
        Answer a = gw.postJob(ADMIN, ALPHA_JOB);
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("store_unavailable");
        assertThat(a.header("Retry-After")).isNotNull();
    }

    @Test
    void requests_over_the_rate_limit_are_429_until_a_request_has_refilled() {
        // 2 per 60 s, refilled greedily: a burst of 2, then one more every 30 s
        start(Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "2", "WEBHOOK_RATE_LIMIT_WINDOW_SEC", "60"));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
        Answer limited = gw.postJob(ALPHA, ALPHA_JOB);
        assertThat(limited.status()).isEqualTo(429);
        assertThat(limited.error()).isEqualTo("rate_limited");
        assertThat(limited.header("Retry-After")).isEqualTo("30");
        // another token from the same address has its own budget
        assertThat(gw.postJob(ADMIN, ALPHA_JOB).status()).isEqualTo(202);

        gw.clock.advance(Duration.ofSeconds(10));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).header("Retry-After")).isEqualTo("20");
        gw.clock.advance(Duration.ofMillis(19_500));
        // Retry-After is whole seconds rounded up: 0.5 s left is "1", never "0"
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).header("Retry-After")).isEqualTo("1");
        gw.clock.advance(Duration.ofMillis(500));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(429);
    }

    @Test
    void rate_limit_is_per_client_address_behind_a_trusted_proxy() {
        start(Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "1"));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, "X-Forwarded-For", "203.0.113.1").status()).isEqualTo(202);
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, "X-Forwarded-For", "203.0.113.1").status()).isEqualTo(429);
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, "X-Forwarded-For", "203.0.113.2").status()).isEqualTo(202);
    }

    @Test
    void job_api_has_its_own_per_token_limit() {
        start(Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "2"));
        String id = gw.postJob(ALPHA, ALPHA_JOB).json().path("job_id").asText();
        assertThat(gw.get("/jobs/" + id, ALPHA).status()).isEqualTo(200);
        assertThat(gw.get("/jobs", ALPHA).status()).isEqualTo(200);
        Answer limited = gw.get("/jobs/" + id, ALPHA);
        assertThat(limited.status()).isEqualTo(429);
        assertThat(limited.header("Retry-After")).isEqualTo("30");
        assertThat(gw.send("POST", "/jobs/" + id + "/cancel", ALPHA, null, null).status()).isEqualTo(429);
        // polling did not use up the budget for submitting
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
        assertThat(gw.get("/jobs/" + id, BETA).status()).isEqualTo(404);
    }

    @Test
    void rate_limit_comes_after_auth_and_before_the_body_checks() {
        start(Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "1"));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
        assertThat(gw.send("POST", "/webhook", ALPHA, "text/plain", "x").status()).isEqualTo(429);
        assertThat(gw.send("POST", "/webhook", null, "text/plain", "x").status()).isEqualTo(401);
    }

    @Test
    void failed_authentications_are_rate_limited_per_address() {
        start(Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "3"));
        for (int i = 0; i < 3; i++) {
            assertThat(gw.postJob("guess-" + i + "-0123456789abcdef", ALPHA_JOB).status()).isEqualTo(403);
        }
        Answer a = gw.postJob("guess-4-0123456789abcdef", ALPHA_JOB);
        assertThat(a.status()).isEqualTo(429);
        assertThat(a.header("Retry-After")).isNotNull();

        gw.clock.advance(Duration.ofSeconds(61));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB).status()).isEqualTo(202);
    }

    @Test
    void forwarded_for_is_believed_only_from_a_trusted_proxy() {
        start();
        String id = gw.postJob(ADMIN, ALPHA_JOB, "X-Forwarded-For", "6.6.6.6, 203.0.113.7", "User-Agent", "ci/1.0")
                .json().path("job_id").asText();
        assertThat(gw.store.find(id).orElseThrow().source().meta())
                .containsEntry("remote_addr", "203.0.113.7").containsEntry("user_agent", "ci/1.0");
        gw.close();

        gw = new RunningGateway(home.resolve("other"), Map.of("TRUSTED_PROXIES", "10.0.0.0/8"));
        String id2 = gw.postJob(ADMIN, ALPHA_JOB, "X-Forwarded-For", "203.0.113.7").json().path("job_id").asText();
        assertThat(gw.store.find(id2).orElseThrow().source().meta()).containsEntry("remote_addr", "127.0.0.1");
    }

    @Test
    void long_user_agent_is_truncated_in_the_source() {
        start();
        String id = gw.postJob(ADMIN, ALPHA_JOB, "User-Agent", "u".repeat(1000)).json().path("job_id").asText();
        assertThat((String) gw.store.find(id).orElseThrow().source().meta().get("user_agent")).hasSize(256);
    }

    @Test
    void job_requiring_approval_is_answered_as_awaiting_approval() {
        start();
        Answer a = gw.postJob(ADMIN, "{\"goal\": \"x\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}");
        assertThat(a.status()).isEqualTo(202);
        assertThat(a.json().path("status").asText()).isEqualTo("awaiting_approval");
        assertThat(a.json().path("project").asText()).isEqualTo("alpha");
    }
}
