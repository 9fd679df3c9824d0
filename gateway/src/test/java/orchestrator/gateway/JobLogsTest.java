package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static orchestrator.gateway.RunningGateway.BETA;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import orchestrator.core.store.Lease;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.StepRecord;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobLogsTest {
    private static final String TWO_STEPS = "{\"goal\": \"g\", \"project_id\": \"alpha\", \"steps\": ["
            + "{\"step_id\": \"plan\", \"agent\": \"claude\", \"prompt\": \"p\"},"
            + "{\"step_id\": \"build\", \"agent\": \"codex\", \"prompt\": \"p\"}]}";

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

    private String submit() {
        Answer a = gw.postJob(ALPHA, TWO_STEPS);
        assertThat(a.status()).isEqualTo(202);
        return a.json().path("job_id").asText();
    }

    private Path stepLog(String id, String step) throws IOException {
        Path f = gw.core.artifactsDir().resolve(id).resolve("steps").resolve(step).resolve("logs.txt");
        Files.createDirectories(f.getParent());
        return f;
    }

    private static void append(Path f, String text) throws IOException {
        Files.writeString(f, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private StepRecord step(String id, int index, String agent, String status) {
        Instant now = gw.clock.instant();
        boolean done = !status.equals("running");
        return new StepRecord(id, index, agent, status, done ? 0 : null, null, null, now, done ? now : null, 0.01, 10, 20);
    }

    @Test
    void logs_list_every_step_in_order_under_a_header() throws Exception {
        String id = submit();
        Lease lease = gw.store.lease("test-runner", 1).get(0);
        gw.store.recordStep(lease, step("plan", 0, "claude", "succeeded"));
        append(stepLog(id, "plan"), "planning\ndone\n");

        Answer a = gw.get("/jobs/" + id + "/logs", ALPHA);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.header("Content-Type")).startsWith("text/plain").contains("utf-8");
        assertThat(a.text()).isEqualTo("==> plan (claude) succeeded <==\nplanning\ndone\n==> build (codex) pending <==\n");
        assertThat(gw.store.events(id)).anySatisfy(e -> {
            assertThat(e.reason()).isEqualTo("read logs");
            assertThat(e.actor()).matches("token-[0-9a-f]{8}");
        });
    }

    @Test
    void logs_are_scoped_like_the_job() {
        String id = submit();
        Answer hidden = gw.get("/jobs/" + id + "/logs", BETA);
        Answer missing = gw.get("/jobs/0123456789abcdef0123456789abcdef/logs", BETA);
        assertThat(hidden.status()).isEqualTo(404);
        assertThat(hidden.text()).isEqualTo(missing.text());
        assertThat(gw.get("/jobs/" + id + "/logs?follow=1", BETA).status()).isEqualTo(404);
        assertThat(gw.get("/jobs/" + id + "/logs", null).status()).isEqualTo(401);
        assertThat(gw.get("/jobs/" + id + "/logs", "nope-nope-nope-nope-nope").status()).isEqualTo(403);
        assertThat(gw.get("/jobs/" + id + "/logs", ADMIN).status()).isEqualTo(200);
        // a refused read leaves no audit row: only the submission and the admin's read
        assertThat(gw.store.events(id)).extracting(e -> e.actor()).doesNotContain("token-" + "x");
        assertThat(gw.store.events(id)).filteredOn(e -> "read logs".equals(e.reason())).singleElement()
                .satisfies(e -> assertThat(e.actor()).isEqualTo("default"));
    }

    @Test
    void follow_streams_a_running_job_to_its_end() throws Exception {
        String id = submit();
        Lease lease = gw.store.lease("test-runner", 1).get(0);
        gw.store.recordStep(lease, step("plan", 0, "claude", "running"));
        Path plan = stepLog(id, "plan");
        append(plan, "already there\n");

        List<String> got = new CopyOnWriteArrayList<>();
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.port + "/jobs/" + id + "/logs?follow=1"))
                .header("Authorization", "Bearer " + ALPHA).build();
        HttpResponse<java.util.stream.Stream<String>> res = http.send(req, HttpResponse.BodyHandlers.ofLines());
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> res.body().forEach(got::add));

        RunningGateway.await(() -> got.contains("data: {\"step_id\":\"plan\",\"line\":\"already there\"}"),
                Duration.ofSeconds(10), "the existing line");
        append(plan, "half a li");
        append(plan, "ne\n");
        RunningGateway.await(() -> got.contains("data: {\"step_id\":\"plan\",\"line\":\"half a line\"}"),
                Duration.ofSeconds(10), "a line written in two parts");

        gw.store.recordStep(lease, step("plan", 0, "claude", "succeeded"));
        gw.store.recordStep(lease, step("build", 1, "codex", "running"));
        RunningGateway.await(() -> got.stream().anyMatch(l -> l.contains("\"step_id\":\"build\",\"status\":\"running\"")),
                Duration.ofSeconds(10), "a status event for the second step");
        append(stepLog(id, "build"), "compiling\nno newline at the end");
        gw.store.recordStep(lease, step("build", 1, "codex", "succeeded"));
        gw.store.finish(lease, Outcome.succeeded(Map.of("summary", "ok"), 0.02, 20, 40));

        reader.get(10, TimeUnit.SECONDS); // the server closed the stream after the end event
        assertThat(got).containsSubsequence(
                "event: log", "data: {\"step_id\":\"plan\",\"line\":\"already there\"}",
                "event: log", "data: {\"step_id\":\"plan\",\"line\":\"half a line\"}",
                "event: log", "data: {\"step_id\":\"build\",\"line\":\"compiling\"}",
                "event: log", "data: {\"step_id\":\"build\",\"line\":\"no newline at the end\"}",
                "event: end", "data: {\"status\":\"succeeded\"}");
        assertThat(got.get(0)).isEqualTo("event: status");
        assertThat(got).filteredOn(l -> l.equals("event: end")).hasSize(1);
        assertThat(gw.store.events(id)).filteredOn(e -> "followed logs".equals(e.reason())).hasSize(1);
    }

    @Test
    void follow_of_a_job_waiting_for_approval_ends_at_once() throws Exception {
        String id = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}")
                .json().path("job_id").asText();
        Answer a = gw.get("/jobs/" + id + "/logs?follow=1", ALPHA);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.text()).startsWith("event: status\n").endsWith("event: end\ndata: {\"status\":\"awaiting_approval\"}\n\n");
    }

    private static final int MANY = 500_000;

    /** Follows the job's logs to the end and answers the data of every log event, in the order received. */
    private List<String> followToEnd(String id, Runnable whileOpen) throws Exception {
        List<String> got = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.port + "/jobs/" + id + "/logs?follow=1"))
                .header("Authorization", "Bearer " + ALPHA).build();
        HttpResponse<java.util.stream.Stream<String>> res = http.send(req, HttpResponse.BodyHandlers.ofLines());
        assertThat(res.statusCode()).isEqualTo(200);
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> res.body().forEach(got::add));
        whileOpen.run();
        reader.get(60, TimeUnit.SECONDS);
        return got;
    }

    /** Every line 0..MANY-1 of the plan step exactly once, in order, and the end event after the last. */
    private static void assertEveryLineOnceThenEnd(List<String> got) {
        int next = 0;
        int endAt = -1;
        for (int i = 0; i < got.size(); i++) {
            String l = got.get(i);
            if (l.startsWith("data: {\"step_id\":\"plan\",\"line\":")) {
                assertThat(endAt).as("a log line after the end event").isEqualTo(-1);
                assertThat(l).as("line " + next).isEqualTo("data: {\"step_id\":\"plan\",\"line\":\"line " + next + "\"}");
                next++;
            } else if (l.equals("event: end")) {
                endAt = i;
            }
        }
        assertThat(next).as("log lines delivered").isEqualTo(MANY);
        assertThat(endAt).as("the end event").isPositive();
        assertThat(got.get(endAt + 1)).isEqualTo("data: {\"status\":\"succeeded\"}");
    }

    private static void writeLines(Path f, int from, int to) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < to; i++) {
            sb.append("line ").append(i).append('\n');
        }
        append(f, sb.toString());
    }

    @Test
    void follow_of_a_finished_job_delivers_every_line_once_in_order_before_end() throws Exception {
        String id = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"steps\": ["
                + "{\"step_id\": \"plan\", \"agent\": \"claude\", \"prompt\": \"p\"}]}").json().path("job_id").asText();
        Lease lease = gw.store.lease("test-runner", 1).get(0);
        Path plan = stepLog(id, "plan");
        for (int i = 0; i < MANY; i += 50_000) {
            writeLines(plan, i, i + 50_000);
        }
        gw.store.recordStep(lease, step("plan", 0, "claude", "succeeded"));
        gw.store.finish(lease, Outcome.succeeded(Map.of("summary", "ok"), 0.02, 20, 40));

        assertEveryLineOnceThenEnd(followToEnd(id, () -> { }));
    }

    @Test
    void follow_during_the_job_delivers_every_line_once_in_order_before_end() throws Exception {
        String id = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"steps\": ["
                + "{\"step_id\": \"plan\", \"agent\": \"claude\", \"prompt\": \"p\"}]}").json().path("job_id").asText();
        Lease lease = gw.store.lease("test-runner", 1).get(0);
        gw.store.recordStep(lease, step("plan", 0, "claude", "running"));
        Path plan = stepLog(id, "plan");
        writeLines(plan, 0, 10);

        List<String> got = followToEnd(id, () -> {
            try {
                // the runner's way: many small appends while the follower reads, the last one just before the end
                for (int i = 10; i < MANY; i += 2_500) {
                    writeLines(plan, i, Math.min(MANY, i + 2_500));
                }
                gw.store.recordStep(lease, step("plan", 0, "claude", "succeeded"));
                gw.store.finish(lease, Outcome.succeeded(Map.of("summary", "ok"), 0.02, 20, 40));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertEveryLineOnceThenEnd(got);
    }
}
