package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static orchestrator.gateway.RunningGateway.BETA;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import orchestrator.core.store.JobQuery;
import orchestrator.gateway.RunningGateway.Answer;
import orchestrator.gateway.webhook.RequestSignatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SignedWebhookTest {
    private static final String OLD = "old-secret";
    private static final String NEW = "new-s3cret!#$";
    private static final String ALPHA_JOB = "{\"goal\": \"fix the build\", \"project_id\": \"alpha\"}";
    private static final String SIG = RequestSignatures.HEADER;

    @TempDir
    Path home;
    private RunningGateway gw;

    @BeforeEach
    void start() {
        gw = new RunningGateway(home, Map.of("WEBHOOK_HMAC_SECRETS", "alpha=" + OLD + "|" + NEW));
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    private static String sign(String secret, String body) {
        return RequestSignatures.sign(secret, body.getBytes(StandardCharsets.UTF_8));
    }

    private int jobs() {
        return gw.store.list(new JobQuery(null, true, null, 100)).size();
    }

    @Test
    void body_signed_with_any_current_secret_is_accepted() {
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(OLD, ALPHA_JOB)).status()).isEqualTo(202);
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(NEW, ALPHA_JOB)).status()).isEqualTo(202);
        // hex digits in either case, as some senders write them
        assertThat(gw.postJob(ADMIN, ALPHA_JOB, SIG, sign(NEW, ALPHA_JOB).toUpperCase().replace("SHA256=", "sha256="))
                .status()).isEqualTo(202);
        assertThat(jobs()).isEqualTo(3);
    }

    @Test
    void unsigned_request_for_a_signed_project_is_401_signature_required() {
        Answer a = gw.postJob(ALPHA, ALPHA_JOB);
        assertThat(a.status()).isEqualTo(401);
        assertThat(a.error()).isEqualTo("signature_required");
        assertThat(a.json().path("message").asText()).contains(SIG).doesNotContain(OLD).doesNotContain(NEW);
        assertThat(jobs()).isZero();
    }

    @Test
    void badly_signed_request_is_401_invalid_signature_and_nothing_is_stored() {
        String[] bad = {
            sign("wrong-secret", ALPHA_JOB),
            sign(OLD, ALPHA_JOB + " "),                    // signature of another body
            sign(OLD, ALPHA_JOB).replace("sha256=", "sha1="),
            sign(OLD, ALPHA_JOB).substring(0, 40),          // truncated
            "sha256=" + "zz".repeat(32),                   // not hex
            "sha256=",
            OLD,                                           // the secret itself is not a signature
        };
        for (String header : bad) {
            Answer a = gw.postJob(ALPHA, ALPHA_JOB, SIG, header);
            assertThat(a.status()).as(header).isEqualTo(401);
            assertThat(a.error()).as(header).isEqualTo("invalid_signature");
        }
        assertThat(jobs()).isZero();
    }

    @Test
    void signature_is_checked_even_for_a_repeated_idempotency_key() {
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(OLD, ALPHA_JOB), "Idempotency-Key", "k").status()).isEqualTo(202);
        Answer unsigned = gw.postJob(ALPHA, ALPHA_JOB, "Idempotency-Key", "k");
        assertThat(unsigned.status()).isEqualTo(401);
        assertThat(unsigned.text()).doesNotContain("job_id");
    }

    @Test
    void projects_without_secrets_and_earlier_checks_are_unaffected() {
        String betaJob = "{\"goal\": \"g\", \"project_id\": \"beta\"}";
        assertThat(gw.postJob(BETA, betaJob).status()).isEqualTo(202);
        // the order of DESIGN §4 comes first: a bad token is 403, a wrong scope is 403, bad JSON is 400
        assertThat(gw.postJob("unknown-token-0123456789", ALPHA_JOB).status()).isEqualTo(403);
        assertThat(gw.postJob(BETA, ALPHA_JOB).error()).isEqualTo("forbidden_project");
        assertThat(gw.postJob(ALPHA, "{\"goal\": ").error()).isEqualTo("invalid_json");
    }
}
