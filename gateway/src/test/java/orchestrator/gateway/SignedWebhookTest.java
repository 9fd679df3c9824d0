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
        // hex digits in either case, as some senders write them: the same signature, so the same request again
        Answer upper = gw.postJob(ADMIN, ALPHA_JOB, SIG, sign(NEW, ALPHA_JOB).toUpperCase().replace("SHA256=", "sha256="));
        assertThat(upper.status()).isEqualTo(200);
        assertThat(jobs()).isEqualTo(2);
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

    private String v1(String secret, long timestamp, String body) {
        return RequestSignatures.signV1(secret, timestamp, body.getBytes(StandardCharsets.UTF_8));
    }

    private long now() {
        return gw.clock.instant().getEpochSecond();
    }

    @Test
    void same_signed_request_twice_makes_one_job() {
        Answer first = gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(OLD, ALPHA_JOB), "X-GitHub-Delivery", "d-1");
        assertThat(first.status()).isEqualTo(202);
        // a replay answers the first job, as a repeated idempotency key does (DESIGN §4); headers no signature
        // covers (a delivery id, an Idempotency-Key) cannot make it pass as new
        for (String[] extra : new String[][] {{"X-GitHub-Delivery", "d-1"}, {"X-GitHub-Delivery", "d-2"}, {"Idempotency-Key", "fresh"}}) {
            Answer again = gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(OLD, ALPHA_JOB), extra[0], extra[1]);
            assertThat(again.status()).as(extra[1]).isEqualTo(200);
            assertThat(again.json().path("job_id").asText()).isEqualTo(first.json().path("job_id").asText());
        }
        gw.clock.advance(java.time.Duration.ofDays(30));
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(OLD, ALPHA_JOB)).status()).as("a month later").isEqualTo(200);
        assertThat(jobs()).isEqualTo(1);
        assertThat(gw.store.events(first.json().path("job_id").asText()))
                .anySatisfy(e -> assertThat(e.reason()).contains("repeated submission"));
    }

    @Test
    void distinct_signed_bodies_are_distinct_jobs_and_a_signed_idempotency_key_still_dedupes() {
        String other = "{\"goal\": \"another goal\", \"project_id\": \"alpha\"}";
        assertThat(gw.postJob(ALPHA, ALPHA_JOB, SIG, sign(OLD, ALPHA_JOB)).status()).isEqualTo(202);
        assertThat(gw.postJob(ALPHA, other, SIG, sign(OLD, other)).status()).isEqualTo(202);
        String keyed1 = "{\"goal\": \"g1\", \"project_id\": \"alpha\", \"idempotency_key\": \"nightly-1\"}";
        String keyed2 = "{\"goal\": \"g2\", \"project_id\": \"alpha\", \"idempotency_key\": \"nightly-1\"}";
        assertThat(gw.postJob(ALPHA, keyed1, SIG, sign(OLD, keyed1)).status()).isEqualTo(202);
        assertThat(gw.postJob(ALPHA, keyed2, SIG, sign(OLD, keyed2)).status()).as("the body's key is signed").isEqualTo(200);
        assertThat(jobs()).isEqualTo(3);
    }

    @Test
    void timestamped_signature_is_accepted_and_its_replay_answers_the_first_job() {
        long ts = now();
        Answer first = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, Long.toString(ts),
                RequestSignatures.V1_HEADER, v1(NEW, ts, ALPHA_JOB));
        assertThat(first.status()).isEqualTo(202);
        Answer replay = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, Long.toString(ts),
                RequestSignatures.V1_HEADER, v1(NEW, ts, ALPHA_JOB), "Idempotency-Key", "changed-by-the-replayer");
        assertThat(replay.status()).isEqualTo(200);
        assertThat(replay.json().path("job_id").asText()).isEqualTo(first.json().path("job_id").asText());
        // the same body signed again a second later is a new request of the sender's, not a replay
        gw.clock.advance(java.time.Duration.ofSeconds(1));
        Answer later = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, Long.toString(ts + 1),
                RequestSignatures.V1_HEADER, v1(OLD, ts + 1, ALPHA_JOB));
        assertThat(later.status()).isEqualTo(202);
        assertThat(jobs()).isEqualTo(2);
    }

    @Test
    void stale_timestamp_is_401() {
        long ts = now();
        String sig = v1(OLD, ts, ALPHA_JOB);
        gw.clock.advance(RequestSignatures.TOLERANCE.plusSeconds(1));
        Answer stale = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, Long.toString(ts), RequestSignatures.V1_HEADER, sig);
        assertThat(stale.status()).isEqualTo(401);
        assertThat(stale.error()).isEqualTo("stale_timestamp");
        long future = now() + RequestSignatures.TOLERANCE.toSeconds() + 60;
        Answer ahead = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, Long.toString(future),
                RequestSignatures.V1_HEADER, v1(OLD, future, ALPHA_JOB));
        assertThat(ahead.error()).isEqualTo("stale_timestamp");
        assertThat(jobs()).isZero();
    }

    @Test
    void tampered_timestamp_is_401() {
        long ts = now() - 600;
        String sig = v1(OLD, ts, ALPHA_JOB);
        // the replayer moves a captured request's timestamp to now: the signature no longer matches
        for (String forged : new String[] {Long.toString(now()), Long.toString(ts) + "0", "", "12ab", "-5", " " + ts}) {
            Answer a = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, forged, RequestSignatures.V1_HEADER, sig);
            assertThat(a.status()).as(forged).isEqualTo(401);
            assertThat(a.error()).as(forged).isIn("invalid_signature", "invalid_timestamp", "stale_timestamp");
        }
        // nor does a v1 signature taken for a plain one, or a plain one given a timestamp
        Answer mixed = gw.postJob(ALPHA, ALPHA_JOB, SIG, sig.replace("v1=", "sha256="));
        assertThat(mixed.error()).isEqualTo("invalid_signature");
        Answer plainAsV1 = gw.postJob(ALPHA, ALPHA_JOB, RequestSignatures.TIMESTAMP_HEADER, Long.toString(now()),
                RequestSignatures.V1_HEADER, sign(OLD, ALPHA_JOB).replace("sha256=", "v1="));
        assertThat(plainAsV1.error()).isEqualTo("invalid_signature");
        assertThat(jobs()).isZero();
    }
}
