package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.Json;
import orchestrator.core.SettableClock;
import orchestrator.core.job.JobState;
import orchestrator.core.store.Callback;
import orchestrator.core.store.Lease;
import orchestrator.core.store.Outcome;
import orchestrator.runner.callback.CallbackSender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Completion callbacks against a real HTTP server on 127.0.0.1. */
class CallbackTest {
    private static final String SECRET = "callback-secret-for-tests";

    @TempDir
    Path tmp;

    private HttpServer server;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger failuresLeft = new AtomicInteger();

    record Request(Map<String, List<String>> headers, byte[] body) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().get(0)).findFirst().orElse(null);
        }
    }

    private String startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/hook", ex -> {
            requests.add(new Request(Map.copyOf(ex.getRequestHeaders()), ex.getRequestBody().readAllBytes()));
            int code = failuresLeft.getAndDecrement() > 0 ? 500 : 200;
            ex.sendResponseHeaders(code, -1);
            ex.close();
        });
        server.start();
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook?x=1";
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    private static String job(String url) {
        return "{\"goal\": \"g\", \"callback_url\": \"" + url + "\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"ok\", \"prompt\": \"p\"}]}";
    }

    private static final String AGENTS = "{\"ok\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo all done\"]}}";

    /** Finishes a job by hand, as a runner would: the outbox row is written with the final state. */
    private static String finishedJob(RunnerFixture f, String url) {
        String id = f.enqueue(job(url));
        Lease l = f.store.lease("a", 1).get(0);
        f.store.finish(l, Outcome.succeeded(Map.of("final_message", "hi"), 0, 0, 0));
        return id;
    }

    @Test
    void finished_job_posts_its_result_signed_with_the_hmac_secret() throws IOException {
        String url = startServer();
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of("CALLBACK_ALLOW_PRIVATE", "1", "CALLBACK_HMAC_SECRET", SECRET)).start()) {
            String id = f.enqueue(job(url));
            assertThat(f.awaitFinal(id, Duration.ofSeconds(30)).state()).isEqualTo(JobState.SUCCEEDED);
            RunnerFixture.await("the callback to be delivered and recorded",
                    () -> f.store.events(id).stream().anyMatch(e -> "callback delivered (HTTP 200)".equals(e.reason())), Duration.ofSeconds(20));
            assertThat(f.store.findCallback(id).orElseThrow().status()).isEqualTo("delivered");

            assertThat(requests).hasSize(1);
            Request r = requests.get(0);
            assertThat(r.header("Content-Type")).isEqualTo("application/json");
            assertThat(r.header("X-Orchestrator-Event")).isEqualTo("job.finished");
            assertThat(r.header("X-Orchestrator-Delivery")).isEqualTo(id + ":1");
            assertThat(r.header("X-Orchestrator-Signature-256")).isEqualTo("sha256=" + CallbackSender.sign(SECRET, r.body()));
            JsonNode body = Json.parse(new String(r.body(), StandardCharsets.UTF_8));
            assertThat(body.get("job_id").asText()).isEqualTo(id);
            // the body is the job's result.json: the prototype's document and status words
            assertThat(body.get("status").asText()).isEqualTo("success");
            assertThat(body.get("kind").asText()).isEqualTo("job");
            assertThat(body.get("summary").asText()).isEqualTo("all done");
            assertThat(body.get("steps")).hasSize(1);
        }
    }

    @Test
    void server_failing_twice_gets_the_callback_on_the_third_attempt_after_backoffs() throws IOException {
        String url = startServer();
        failuresLeft.set(2);
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of())) {
            String id = finishedJob(f, url);
            SettableClock clock = new SettableClock(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).plusSeconds(1));
            CallbackSender sender = new CallbackSender(f.store, clock,
                    () -> new CallbackSender.Settings(null, 8, true), "r1", Duration.ofSeconds(1));

            assertThat(sender.deliverDue()).isEqualTo(1);
            Callback c = f.store.findCallback(id).orElseThrow();
            assertThat(c.status()).isEqualTo("pending");
            assertThat(c.lastError()).contains("HTTP 500");
            assertThat(c.nextAttemptAt()).isEqualTo(clock.instant().plusSeconds(1));
            assertThat(sender.deliverDue()).as("not due before its backoff").isZero();

            clock.advance(Duration.ofSeconds(1));
            assertThat(sender.deliverDue()).isEqualTo(1);
            assertThat(f.store.findCallback(id).orElseThrow().nextAttemptAt()).isEqualTo(clock.instant().plusSeconds(2));
            clock.advance(Duration.ofSeconds(2));
            assertThat(sender.deliverDue()).isEqualTo(1);

            assertThat(f.store.findCallback(id).orElseThrow().status()).isEqualTo("delivered");
            assertThat(requests).extracting(r -> r.header("X-Orchestrator-Delivery")).containsExactly(id + ":1", id + ":2", id + ":3");
            assertThat(requests.get(0).header("X-Orchestrator-Signature-256")).isNull();
        }
    }

    @Test
    void callback_that_keeps_failing_is_failed_after_max_attempts_and_recorded() throws IOException {
        String url = startServer();
        failuresLeft.set(100);
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of())) {
            String id = finishedJob(f, url);
            SettableClock clock = new SettableClock(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).plusSeconds(1));
            CallbackSender sender = new CallbackSender(f.store, clock, () -> new CallbackSender.Settings(null, 3, true), "r1", Duration.ofSeconds(1));
            for (int i = 0; i < 3; i++) {
                assertThat(sender.deliverDue()).isEqualTo(1);
                clock.advance(Duration.ofMinutes(5));
            }
            assertThat(sender.deliverDue()).isZero();
            assertThat(f.store.findCallback(id).orElseThrow().status()).isEqualTo("failed");
            assertThat(requests).hasSize(3);
            assertThat(f.store.events(id)).anyMatch(e -> e.reason() != null && e.reason().startsWith("callback failed after 3 attempts: HTTP 500"));
        }
    }

    @Test
    void job_run_by_a_default_runner_with_a_loopback_callback_ends_with_the_callback_refused_and_why() throws IOException {
        String url = startServer();
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of()).start()) {
            String id = f.enqueue(job(url));
            assertThat(f.awaitFinal(id, Duration.ofSeconds(30)).state()).isEqualTo(JobState.SUCCEEDED);
            RunnerFixture.await("the callback to be refused",
                    () -> f.store.findCallback(id).map(c -> c.status().equals("refused")).orElse(false), Duration.ofSeconds(20));
            Callback c = f.store.findCallback(id).orElseThrow();
            assertThat(c.lastError()).contains("127.0.0.1").contains("private").contains("CALLBACK_ALLOW_PRIVATE=1");
            assertThat(requests).isEmpty();
        }
    }

    @Test
    void default_config_refuses_loopback_and_private_addresses_without_a_request() throws IOException {
        String url = startServer();
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of())) {
            String loop = finishedJob(f, url);
            String priv = finishedJob(f, "http://10.0.0.1/hook");
            CallbackSender sender = new CallbackSender(f.store, new SettableClock(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).plusSeconds(1)),
                    () -> new CallbackSender.Settings(null, 8, false), "r1", Duration.ofSeconds(1));
            assertThat(sender.deliverDue()).isEqualTo(2);

            assertThat(requests).isEmpty();
            for (String id : List.of(loop, priv)) {
                Callback c = f.store.findCallback(id).orElseThrow();
                assertThat(c.status()).isEqualTo("refused");
                assertThat(c.lastError()).contains("private").contains("CALLBACK_ALLOW_PRIVATE");
                assertThat(f.store.events(id)).anyMatch(e -> e.reason() != null && e.reason().startsWith("callback refused"));
            }
            assertThat(f.store.findCallback(loop).orElseThrow().lastError()).contains("127.0.0.1");
            assertThat(f.store.findCallback(priv).orElseThrow().lastError()).contains("10.0.0.1");
        }
    }

    @Test
    void outbox_row_claimed_by_a_runner_that_died_is_sent_by_another_after_the_claim_expires() throws IOException {
        String url = startServer();
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of())) {
            String id = finishedJob(f, url);
            Instant now = Instant.now().plusSeconds(1);
            // runner A claims the delivery and dies before sending it
            assertThat(f.store.claimCallbacks(now, Duration.ofSeconds(60), 16)).extracting(Callback::jobId).containsExactly(id);

            SettableClock clock = new SettableClock(now);
            CallbackSender b = new CallbackSender(f.store, clock, () -> new CallbackSender.Settings(null, 8, true), "r2", Duration.ofSeconds(1));
            assertThat(b.deliverDue()).as("claimed by A: not sent twice at once").isZero();
            clock.advance(Duration.ofSeconds(61));
            assertThat(b.deliverDue()).isEqualTo(1);

            assertThat(f.store.findCallback(id).orElseThrow().status()).isEqualTo("delivered");
            assertThat(requests).extracting(r -> r.header("X-Orchestrator-Delivery")).containsExactly(id + ":2");
        }
    }

    @Test
    void job_without_callback_url_has_no_outbox_row_and_needs_human_writes_none() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of())) {
            String plain = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"ok\", \"prompt\": \"p\"}]}");
            f.store.finish(f.store.lease("a", 1).get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
            assertThat(f.store.findCallback(plain)).isEmpty();

            String paused = f.enqueue(job("http://example.com/hook"));
            f.store.finish(f.store.lease("a", 1).get(0), new Outcome(JobState.NEEDS_HUMAN, "ask_human", "?", Map.of(), 0, 0, 0, "s1"));
            assertThat(f.store.findCallback(paused)).isEmpty();
        }
    }
}
