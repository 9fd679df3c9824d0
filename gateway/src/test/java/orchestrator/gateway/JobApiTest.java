package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static orchestrator.gateway.RunningGateway.BETA;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobStore;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobApiTest {
    @TempDir
    Path home;
    private RunningGateway gw;

    @BeforeEach
    void start() {
        gw = new RunningGateway(home);
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    private String submit(String token, String project) {
        String body = project == null ? "{\"goal\": \"g\"}" : "{\"goal\": \"g\", \"project_id\": \"" + project + "\"}";
        Answer a = gw.postJob(token, body);
        assertThat(a.status()).isEqualTo(202);
        return a.json().path("job_id").asText();
    }

    @Test
    void job_is_readable_at_its_status_url() {
        String id = submit(ALPHA, "alpha");
        Answer a = gw.get("/jobs/" + id, ALPHA);
        assertThat(a.status()).isEqualTo(200);
        JsonNode j = a.json();
        assertThat(j.path("job_id").asText()).isEqualTo(id);
        assertThat(j.path("project").asText()).isEqualTo("alpha");
        assertThat(j.path("status").asText()).isEqualTo("queued");
        assertThat(j.path("source").path("type").asText()).isEqualTo("webhook");
        assertThat(j.path("steps")).hasSize(3);
        assertThat(j.path("steps").get(0).path("status").asText()).isEqualTo("pending");
        assertThat(j.has("created_at")).isTrue();
    }

    @Test
    void scoped_token_cannot_read_another_projects_job() {
        String betas = submit(BETA, "beta");
        Answer hidden = gw.get("/jobs/" + betas, ALPHA);
        Answer missing = gw.get("/jobs/0123456789abcdef0123456789abcdef", ALPHA);

        assertThat(hidden.status()).isEqualTo(404);
        assertThat(hidden.error()).isEqualTo("not_found");
        // the same answer as for a job that does not exist: existence does not leak
        assertThat(hidden.text()).isEqualTo(missing.text());
        assertThat(gw.get("/jobs/" + betas, BETA).status()).isEqualTo(200);
        assertThat(gw.get("/jobs/" + betas, ADMIN).status()).isEqualTo(200);
    }

    @Test
    void job_without_a_project_is_visible_only_to_unscoped_tokens() {
        String id = submit(ADMIN, null);
        assertThat(gw.get("/jobs/" + id, ALPHA).status()).isEqualTo(404);
        assertThat(gw.get("/jobs/" + id, ADMIN).status()).isEqualTo(200);
    }

    @Test
    void reading_a_job_needs_a_valid_token() {
        String id = submit(ALPHA, "alpha");
        assertThat(gw.get("/jobs/" + id, null).status()).isEqualTo(401);
        assertThat(gw.get("/jobs/" + id, "wrong-token-0123456789").status()).isEqualTo(403);
    }

    @Test
    void listing_shows_only_the_tokens_projects_newest_first() {
        String a1 = submit(ALPHA, "alpha");
        String b1 = submit(BETA, "beta");
        String none = submit(ADMIN, null);
        gw.clock.advance(java.time.Duration.ofSeconds(1));
        String a2 = submit(ALPHA, "alpha");

        assertThat(ids(gw.get("/jobs", ALPHA))).containsExactly(a2, a1);
        assertThat(ids(gw.get("/jobs", ADMIN))).containsExactlyInAnyOrder(a1, b1, none, a2).first().isEqualTo(a2);
        assertThat(ids(gw.get("/jobs?project=beta", ADMIN))).containsExactly(b1);
        assertThat(ids(gw.get("/jobs?limit=1", ALPHA))).containsExactly(a2);
        assertThat(gw.get("/jobs?project=beta", ALPHA).status()).isEqualTo(403);
        assertThat(gw.get("/jobs?state=nonsense", ALPHA).error()).isEqualTo("invalid_query");
        assertThat(gw.get("/jobs?limit=0", ALPHA).error()).isEqualTo("invalid_query");
        assertThat(ids(gw.get("/jobs?state=queued", BETA))).containsExactly(b1);
    }

    @Test
    void listing_pages_through_more_than_500_jobs_each_exactly_once_with_next_cursor_null_at_the_end() throws Exception {
        java.util.Set<String> submitted = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            java.util.List<java.util.concurrent.Future<?>> fs = new java.util.ArrayList<>();
            for (int i = 0; i < 520; i++) {
                // straight into the store: 520 POSTs would meet the webhook's rate limit
                fs.add(pool.submit(() -> submitted.add(gw.store.enqueue(new orchestrator.core.store.NewJob(
                        gw.core.agents().parser().parse(orchestrator.core.Json.parse("{\"goal\": \"g\", \"project_id\": \"alpha\"}")),
                        orchestrator.core.job.Source.of("webhook"), "test")).jobId())));
            }
            for (var f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        String betas = submit(BETA, "beta");

        java.util.List<String> seen = new java.util.ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            Answer a = gw.get("/jobs?limit=200" + (cursor == null ? "" : "&cursor=" + cursor), ALPHA);
            seen.addAll(ids(a));
            cursor = a.json().path("next_cursor").isNull() ? null : a.json().path("next_cursor").asText();
            assertThat(a.json().has("next_cursor")).isTrue();
            pages++;
        } while (cursor != null && pages < 10);

        assertThat(pages).isEqualTo(3);
        assertThat(seen).hasSize(520).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(submitted)
                .doesNotContain(betas).isSortedAccordingTo(java.util.Comparator.reverseOrder());
        assertThat(gw.get("/jobs?limit=" + orchestrator.core.store.JobQuery.MAX_LIMIT, ADMIN).json().path("jobs")).hasSize(500);
    }

    @Test
    void listing_filters_combine_and_bad_values_are_400_naming_the_field() {
        String tagged = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"tags\": [\"nightly\"]}").json().path("job_id").asText();
        String plain = submit(ALPHA, "alpha");
        gw.clock.advance(java.time.Duration.ofHours(1));
        String laterTagged = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"tags\": [\"nightly\"]}").json().path("job_id").asText();
        String betaTagged = gw.postJob(BETA, "{\"goal\": \"g\", \"project_id\": \"beta\", \"tags\": [\"nightly\"]}").json().path("job_id").asText();
        gw.send("POST", "/jobs/" + laterTagged + "/cancel", ALPHA, null, null);

        assertThat(ids(gw.get("/jobs?tag=nightly", ALPHA))).containsExactly(laterTagged, tagged);
        assertThat(ids(gw.get("/jobs?tag=nightly", ADMIN))).containsExactly(betaTagged, laterTagged, tagged);
        assertThat(ids(gw.get("/jobs?tag=nightly&state=queued&source=webhook", ALPHA))).containsExactly(tagged);
        assertThat(ids(gw.get("/jobs?source=cron", ALPHA))).isEmpty();
        assertThat(ids(gw.get("/jobs?created_after=2026-01-31T09:30:00Z", ALPHA))).containsExactly(laterTagged);
        assertThat(ids(gw.get("/jobs?created_before=2026-01-31T10:30:00%2B01:00&project=alpha", ADMIN))).containsExactly(plain, tagged);
        assertThat(ids(gw.get("/jobs?tag=nightly&created_after=2026-01-31T09:30:00Z&project=beta", BETA))).containsExactly(betaTagged);
        assertThat(gw.get("/jobs?tag=nightly&project=beta", ALPHA).status()).as("scope still applies").isEqualTo(403);

        for (String[] bad : new String[][] {{"cursor", "not-a-cursor"}, {"cursor", "ajE6eHl6"}, {"created_after", "yesterday"},
                {"created_before", "2026-13-01T00:00:00Z"}, {"source", "email"}, {"state", "done"}, {"limit", "501"}}) {
            Answer a = gw.get("/jobs?" + bad[0] + "=" + bad[1], ALPHA);
            assertThat(a.status()).as(bad[0] + "=" + bad[1]).isEqualTo(400);
            assertThat(a.error()).isEqualTo("invalid_query");
            assertThat(a.json().path("field").asText()).isEqualTo(bad[0]);
        }
    }

    @Test
    void listing_filters_by_agent_and_goal_text_as_the_dashboard_does_and_long_ones_are_400() {
        String fix = gw.postJob(ALPHA, "{\"goal\": \"Fix the FLAKY login test\", \"project_id\": \"alpha\", "
                + "\"steps\": [{\"step_id\": \"s1\", \"agent\": \"simulate\", \"prompt\": \"p\"}]}").json().path("job_id").asText();
        String other = gw.postJob(ALPHA, "{\"goal\": \"write docs\", \"project_id\": \"alpha\"}").json().path("job_id").asText();
        String betaFix = gw.postJob(BETA, "{\"goal\": \"fix flaky beta\", \"project_id\": \"beta\", "
                + "\"steps\": [{\"step_id\": \"s1\", \"agent\": \"simulate\", \"prompt\": \"p\"}]}").json().path("job_id").asText();

        assertThat(ids(gw.get("/jobs?q=flaky", ALPHA))).containsExactly(fix);
        assertThat(ids(gw.get("/jobs?q=FLAKY", ADMIN))).containsExactly(betaFix, fix);
        assertThat(ids(gw.get("/jobs?agent=simulate", ALPHA))).containsExactly(fix);
        assertThat(ids(gw.get("/jobs?agent=simulate&q=docs", ALPHA))).isEmpty();
        assertThat(ids(gw.get("/jobs?q=docs", ALPHA))).containsExactly(other);
        assertThat(ids(gw.get("/jobs?agent=nobody", ADMIN))).isEmpty();
        for (String name : new String[] {"agent", "q"}) {
            Answer a = gw.get("/jobs?" + name + "=" + "x".repeat(201), ALPHA);
            assertThat(a.status()).isEqualTo(400);
            assertThat(a.json().path("field").asText()).isEqualTo(name);
        }
    }

    @Test
    void events_are_the_jobs_audit_trail_and_hidden_like_the_job() {
        String id = submit(ALPHA, "alpha");
        gw.send("POST", "/jobs/" + id + "/cancel", ALPHA, null, null);

        Answer a = gw.get("/jobs/" + id + "/events", ALPHA);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("job_id").asText()).isEqualTo(id);
        JsonNode events = a.json().path("events");
        assertThat(events).hasSize(2);
        assertThat(events.get(0).path("to").asText()).isEqualTo("queued");
        assertThat(events.get(0).path("from").isNull()).isTrue();
        assertThat(events.get(1).path("from").asText()).isEqualTo("queued");
        assertThat(events.get(1).path("to").asText()).isEqualTo("cancelled");
        assertThat(events.get(1).path("actor").asText()).startsWith("token-");
        assertThat(events.get(1).path("at").asText()).isEqualTo("2026-01-31T09:00:00Z");
        assertThat(events.get(1).path("id").asLong()).isGreaterThan(events.get(0).path("id").asLong());

        Answer hidden = gw.get("/jobs/" + id + "/events", BETA);
        assertThat(hidden.status()).isEqualTo(404);
        assertThat(hidden.text()).isEqualTo(gw.get("/jobs/0123456789abcdef0123456789abcdef/events", BETA).text());
        assertThat(gw.get("/jobs/" + id + "/events", null).status()).isEqualTo(401);
    }

    @Test
    void callback_shows_on_the_job_pending_until_the_runner_tries_it_then_refused_with_the_reason() {
        String id = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"callback_url\": \"http://127.0.0.1:9/hook\"}")
                .json().path("job_id").asText();
        assertThat(gw.get("/jobs/" + submit(ALPHA, "alpha"), ALPHA).json().path("callback").isNull()).as("no callback_url").isTrue();
        JsonNode before = gw.get("/jobs/" + id, ALPHA).json().path("callback");
        assertThat(before.path("status").asText()).isEqualTo("pending");
        assertThat(before.path("attempts").asInt()).isZero();

        var lease = gw.store.lease("r", 1).stream().filter(l -> l.jobId().equals(id)).findFirst().orElseThrow();
        gw.store.finish(lease, orchestrator.core.store.Outcome.succeeded(Map.of(), 0, 0, 0));
        // what the runner's CallbackSender records for a loopback address (CallbackTest runs the real one)
        var claimed = gw.store.claimCallbacks(gw.clock.instant(), java.time.Duration.ofSeconds(60), 16).get(0);
        String why = "127.0.0.1 resolves to 127.0.0.1, a loopback, link-local or private address (CALLBACK_ALLOW_PRIVATE=1 allows it)";
        assertThat(gw.store.recordCallback(id, claimed.attempts(), "refused", gw.clock.instant(), why)).isTrue();

        JsonNode after = gw.get("/jobs/" + id, ALPHA).json().path("callback");
        assertThat(after.path("status").asText()).isEqualTo("refused");
        assertThat(after.path("attempts").asInt()).isEqualTo(1);
        assertThat(after.path("reason").asText()).contains("private address").contains("CALLBACK_ALLOW_PRIVATE");
        assertThat(after.path("last_error").asText()).isEqualTo(why);
        assertThat(after.path("next_attempt_at").isNull()).isTrue();
    }

    private static java.util.List<String> ids(Answer a) {
        assertThat(a.status()).isEqualTo(200);
        java.util.List<String> out = new java.util.ArrayList<>();
        a.json().path("jobs").forEach(j -> out.add(j.path("job_id").asText()));
        return out;
    }

    @Test
    void cancel_answers_the_new_state_and_409_when_it_is_too_late() {
        String id = submit(ALPHA, "alpha");
        Answer a = gw.send("POST", "/jobs/" + id + "/cancel", ALPHA, null, null);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("status").asText()).isEqualTo("cancelled");
        assertThat(a.json().path("job_id").asText()).isEqualTo(id);
        assertThat(gw.store.events(id)).extracting(e -> e.actor()).last().asString().startsWith("token-");

        Answer again = gw.send("POST", "/jobs/" + id + "/cancel", ALPHA, null, null);
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.error()).isEqualTo("conflict");

        Answer retried = gw.send("POST", "/jobs/" + id + "/retry", ALPHA, null, null);
        assertThat(retried.status()).isEqualTo(200);
        assertThat(retried.json().path("status").asText()).isEqualTo("queued");
    }

    @Test
    void continue_adds_a_step_after_the_last_that_ran_and_queues_the_job_and_refuses_what_it_cannot() {
        String id = submit(ALPHA, "alpha");
        String path = "/jobs/" + id + "/continue";
        Answer early = gw.send("POST", path, ALPHA, "application/json", "{\"prompt\": \"more\"}");
        assertThat(early.status()).as("a queued job").isEqualTo(409);
        assertThat(early.error()).isEqualTo("conflict");

        var lease = gw.store.lease("r", 1).get(0);
        gw.store.recordStep(lease, new orchestrator.core.store.StepRecord("01_plan", 0, "claude", "succeeded", 0, null, null,
                java.time.Instant.now(), java.time.Instant.now(), 0, 0, 0));
        gw.store.finish(lease, orchestrator.core.store.Outcome.succeeded(Map.of(), 0, 0, 0));

        assertThat(gw.send("POST", path, ALPHA, "application/json", "{}").status()).isEqualTo(400);
        assertThat(gw.send("POST", path, ALPHA, "application/json", "{\"prompt\": \" \"}").json().path("field").asText()).isEqualTo("prompt");
        assertThat(gw.send("POST", path, ALPHA, "application/json", "not json").status()).isEqualTo(400);
        assertThat(gw.send("POST", path, BETA, "application/json", "{\"prompt\": \"more\"}").status()).as("another project").isEqualTo(404);

        Answer a = gw.send("POST", path, ALPHA, "application/json", "{\"prompt\": \"Now add a test.\"}");
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("status").asText()).isEqualTo("queued");
        assertThat(a.json().path("step_id").asText()).isEqualTo("continue_1");
        assertThat(a.json().path("continues").asText()).isEqualTo("01_plan");
        JsonNode steps = gw.get("/jobs/" + id, ALPHA).json().path("steps");
        assertThat(steps.get(1).path("step_id").asText()).isEqualTo("continue_1");
        assertThat(steps.get(1).path("continues").asText()).isEqualTo("01_plan");
        assertThat(gw.store.events(id)).extracting(e -> e.reason()).last().asString().isEqualTo("continued as step continue_1 after 01_plan");
    }

    @Test
    void a_webhooks_workdir_is_not_used_and_kept_as_metadata_ignored_workdir() {
        Answer a = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"workdir\": \"/home/someone/repo\","
                + " \"metadata\": {\"source\": \"curl\"}}");
        assertThat(a.status()).isEqualTo(202);
        var spec = gw.store.find(a.json().path("job_id").asText()).orElseThrow().spec();
        assertThat(spec.workdir()).isNull();
        assertThat(spec.metadata()).containsEntry("ignored_workdir", "/home/someone/repo").containsEntry("source", "curl");
    }

    @Test
    void approval_and_rejection_move_a_waiting_job() {
        String waiting = "{\"goal\": \"g\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}";
        String id1 = gw.postJob(ALPHA, waiting).json().path("job_id").asText();
        String id2 = gw.postJob(ALPHA, waiting).json().path("job_id").asText();

        assertThat(gw.send("POST", "/jobs/" + id1 + "/approve", ALPHA, null, null).json().path("status").asText()).isEqualTo("queued");
        assertThat(gw.send("POST", "/jobs/" + id2 + "/reject", ALPHA, null, null).json().path("status").asText()).isEqualTo("cancelled");
        assertThat(gw.send("POST", "/jobs/" + id1 + "/approve", ALPHA, null, null).status()).isEqualTo(409);
    }

    @Test
    void scoped_token_cannot_act_on_another_projects_job() {
        String betas = submit(BETA, "beta");
        Answer a = gw.send("POST", "/jobs/" + betas + "/cancel", ALPHA, null, null);
        assertThat(a.status()).isEqualTo(404);
        assertThat(gw.store.find(betas).orElseThrow().state().wire()).isEqualTo("queued");
    }

    @Test
    void unknown_route_and_wrong_method_answer_json() {
        Answer missing = gw.get("/nope", ADMIN);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.error()).isEqualTo("not_found");
        assertThat(missing.header("Content-Type")).startsWith("application/json");

        Answer wrong = gw.get("/webhook", ADMIN);
        assertThat(wrong.status()).isEqualTo(405);
        assertThat(wrong.error()).isEqualTo("method_not_allowed");
    }

    @Test
    void request_jetty_rejects_before_routing_still_answers_json() throws Exception {
        Answer a = gw.raw("GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\nConnection: close\r\n\r\n", new byte[0]);
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.error()).isEqualTo("bad_request");
        assertThat(a.text()).doesNotContain("Jetty").doesNotContain("<html");
    }

    @Test
    void reads_answer_503_when_the_store_is_closed() {
        String id = submit(ALPHA, "alpha");
        gw.store.close();
        Answer a = gw.get("/jobs/" + id, ALPHA);
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.error()).isEqualTo("store_unavailable");
    }

    @Test
    void unexpected_failure_is_a_500_without_details(@TempDir Path other) {
        // a store that fails in a way no handler expects; its message stands in for a secret
        JobStore broken = (JobStore) Proxy.newProxyInstance(JobStore.class.getClassLoader(), new Class<?>[] {JobStore.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("close")) {
                        return null;
                    }
                    throw new IllegalStateException("s3cr3t-detail at /var/lib/x");
                });
        Env env = new Env(Map.of("ORCH_HOME", other.toString(), "HTTP_PORT", "0", "WEBHOOK_TOKEN", ADMIN));
        CoreConfig core = CoreConfig.from(env);
        try (GatewayServer server = new GatewayServer(GatewayConfig.from(env, core), core, broken, Clock.systemUTC())) {
            int port = server.start();
            java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/jobs/x"))
                            .header("Authorization", "Bearer " + ADMIN).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(500);
            assertThat(r.body()).contains("\"error\":\"internal_error\"").doesNotContain("s3cr3t").doesNotContain("Exception");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
