package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.store.Lease;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.StepRecord;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsTest {
    private static final String METRICS_TOKEN = "metrics-token-0123456789abcdef";

    @TempDir
    Path home;
    private RunningGateway gw;

    @BeforeEach
    void start() {
        gw = new RunningGateway(home, Map.of("METRICS_TOKEN", METRICS_TOKEN));
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    @Test
    void loopback_scrape_shows_requests_queue_depth_outcomes_and_durations() {
        String id = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\"}").json().path("job_id").asText();
        gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\"}");
        gw.postJob(ALPHA, "not json");
        gw.get("/jobs/" + id, ALPHA);
        gw.get("/jobs/" + "f".repeat(32), ALPHA);
        Lease lease = gw.store.lease("runner-1", 1).get(0);
        gw.store.recordStep(lease, new StepRecord("01_plan", 0, "claude", "succeeded", 0, null, null,
                gw.clock.instant(), gw.clock.instant(), 0.25, 100, 200));
        gw.clock.advance(Duration.ofSeconds(42));
        gw.store.finish(lease, Outcome.succeeded(Map.of(), 0.25, 100, 200));

        Answer a = gw.get("/metrics", null);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.header("Content-Type")).startsWith("text/plain; version=0.0.4");
        String m = a.text();
        assertThat(m).contains("orchestrator_http_requests_seconds_bucket{")
                .containsPattern("orchestrator_http_requests_seconds_count\\{method=\"GET\",route=\"/jobs/\\{id}\",status=\"200\",?} 1")
                .containsPattern("orchestrator_http_requests_seconds_count\\{method=\"GET\",route=\"/jobs/\\{id}\",status=\"404\",?} 1")
                .doesNotContain(id).doesNotContain("ffffffff")
                .containsPattern("orchestrator_webhook_requests_total\\{status=\"202\",?} 2")
                .containsPattern("orchestrator_webhook_requests_total\\{status=\"400\",?} 1")
                .contains("orchestrator_jobs{state=\"queued\"} 1", "orchestrator_jobs{state=\"succeeded\"} 1",
                        "orchestrator_jobs{state=\"running\"} 0", "orchestrator_jobs{state=\"awaiting_approval\"} 0",
                        "orchestrator_jobs{state=\"needs_human\"} 0", "orchestrator_jobs{state=\"failed\"} 0",
                        "orchestrator_jobs{state=\"cancelled\"} 0")
                .contains("orchestrator_jobs_by_project{project=\"alpha\",state=\"succeeded\"} 1")
                .contains("orchestrator_steps{project=\"alpha\",agent=\"claude\",status=\"succeeded\"} 1")
                .contains("orchestrator_agent_cost_usd{project=\"alpha\",agent=\"claude\"} 0.25")
                .contains("orchestrator_agent_tokens{project=\"alpha\",agent=\"claude\",direction=\"out\"} 200")
                .contains("# TYPE orchestrator_job_duration_seconds histogram")
                .contains("orchestrator_job_duration_seconds_bucket{le=\"15.0\"} 0",
                        "orchestrator_job_duration_seconds_bucket{le=\"60.0\"} 1",
                        "orchestrator_job_duration_seconds_bucket{le=\"+Inf\"} 1",
                        "orchestrator_job_duration_seconds_sum 42.0")
                .contains("orchestrator_leases_lost_total 0")
                .doesNotContain(ALPHA).doesNotContain(ADMIN).doesNotContain(METRICS_TOKEN);
    }

    @Test
    void store_series_are_cached_for_a_few_seconds() {
        gw.get("/metrics", null);
        gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\"}");
        assertThat(gw.get("/metrics", null).text()).contains("orchestrator_jobs{state=\"queued\"} 0");
        gw.clock.advance(Duration.ofSeconds(5));
        assertThat(gw.get("/metrics", null).text()).contains("orchestrator_jobs{state=\"queued\"} 1");
    }

    @Test
    void proxied_requests_need_the_metrics_token() {
        // nginx on the same host adds X-Forwarded-For: such a request came from outside
        Answer proxied = gw.send("GET", "/metrics", null, null, null, "X-Forwarded-For", "203.0.113.9");
        assertThat(proxied.status()).isEqualTo(403);
        assertThat(proxied.error()).isEqualTo("forbidden");
        assertThat(gw.send("GET", "/metrics", METRICS_TOKEN, null, null, "X-Forwarded-For", "203.0.113.9").status())
                .isEqualTo(200);
        assertThat(gw.send("GET", "/metrics", ADMIN, null, null, "X-Forwarded-For", "203.0.113.9").status())
                .isEqualTo(403);
        assertThat(gw.send("GET", "/metrics", null, null, null, "X-Forwarded-For", "127.0.0.1").status()).isEqualTo(403);
    }

    @Test
    void closed_store_still_scrapes_with_store_up_zero() {
        gw.store.close();
        Answer a = gw.get("/metrics", null);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.text()).contains("orchestrator_store_up 0");
    }
}
