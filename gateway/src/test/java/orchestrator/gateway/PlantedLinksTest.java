package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import orchestrator.core.store.Lease;
import orchestrator.core.store.StepRecord;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Agents run as the gateway's uid and can write into their job's artifact folder: whatever link they plant
 * there must never make the artifact or log routes serve a file from elsewhere on the host.
 */
class PlantedLinksTest {
    private static final String SECRET = "a-secret-outside-the-job-folder";
    private static final String ONE_STEP = "{\"goal\": \"g\", \"project_id\": \"alpha\", \"steps\": ["
            + "{\"step_id\": \"plan\", \"agent\": \"claude\", \"prompt\": \"p\"}]}";

    @TempDir
    Path home;
    private RunningGateway gw;
    private String id;
    private Path jobDir;
    private Path secret;

    @BeforeEach
    void start() throws Exception {
        gw = new RunningGateway(home);
        id = gw.postJob(ALPHA, ONE_STEP).json().path("job_id").asText();
        jobDir = gw.core.artifactsDir().resolve(id);
        Files.createDirectories(jobDir.resolve("steps/plan"));
        Files.writeString(jobDir.resolve("report.md"), "# Report");
        Files.writeString(jobDir.resolve("steps/plan/logs.txt"), "plan log\n");
        secret = home.resolve("outside/secret.txt");
        Files.createDirectories(secret.getParent());
        Files.writeString(secret, SECRET + "\n");
        // the folder a symlinked steps/<id> would point at: it holds a logs.txt of its own
        Files.writeString(secret.resolveSibling("logs.txt"), SECRET + "\n");
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    private Answer artifact(String path) {
        return gw.get("/jobs/" + id + "/artifacts/" + path, ALPHA);
    }

    private Answer logs(boolean follow) {
        return gw.get("/jobs/" + id + "/logs" + (follow ? "?follow=1" : ""), ALPHA);
    }

    private static void assertRefused(Answer a, String what, String why) {
        assertThat(a.status()).as(what).isEqualTo(403);
        assertThat(a.error()).as(what).isEqualTo("unsafe_file");
        assertThat(a.json().path("message").asText()).as(what).contains(why);
        assertThat(a.text()).as(what).doesNotContain(SECRET).doesNotContain("root:");
    }

    private void finish() {
        Lease lease = gw.store.lease("test-runner", 1).get(0);
        java.time.Instant now = gw.clock.instant();
        gw.store.recordStep(lease, new StepRecord("plan", 0, "claude", "succeeded", 0, null, null, now, now, 0.0, 0, 0));
        gw.store.finish(lease, orchestrator.core.store.Outcome.succeeded(java.util.Map.of(), 0.0, 0, 0));
    }

    @Test
    void plain_files_of_the_job_folder_are_still_served() {
        assertThat(artifact("report.md").text()).isEqualTo("# Report");
        assertThat(artifact("steps/plan/logs.txt").text()).isEqualTo("plan log\n");
        assertThat(logs(false).text()).contains("plan log");
        finish();
        assertThat(logs(true).text()).contains("\"line\":\"plan log\"").endsWith("data: {\"status\":\"succeeded\"}\n\n");
    }

    @Test
    void hard_link_to_a_file_outside_is_refused() throws Exception {
        Files.createLink(jobDir.resolve("linked.txt"), secret);
        assertRefused(artifact("linked.txt"), "hard-linked artifact", "hard links");

        Files.delete(jobDir.resolve("steps/plan/logs.txt"));
        Files.createLink(jobDir.resolve("steps/plan/logs.txt"), secret);
        assertRefused(artifact("steps/plan/logs.txt"), "hard-linked step log as an artifact", "hard links");
        assertRefused(logs(false), "hard-linked step log", "hard links");
        assertRefused(logs(true), "hard-linked step log, followed", "hard links");
    }

    @Test
    void symlinked_step_log_is_refused_by_both_routes() throws Exception {
        for (Path target : List.of(secret, Path.of("/etc/passwd"))) {
            Files.deleteIfExists(jobDir.resolve("steps/plan/logs.txt"));
            Files.createSymbolicLink(jobDir.resolve("steps/plan/logs.txt"), target);
            assertRefused(logs(false), "symlinked step log to " + target, "symbolic link");
            assertRefused(logs(true), "symlinked step log to " + target + ", followed", "symbolic link");
            assertRefused(artifact("steps/plan/logs.txt"), "symlinked step log as an artifact", "symbolic link");
        }
    }

    @Test
    void symlinked_steps_folder_is_refused_by_both_routes() throws Exception {
        Path stepDir = jobDir.resolve("steps/plan");
        Files.delete(stepDir.resolve("logs.txt"));
        Files.delete(stepDir);
        Files.createSymbolicLink(stepDir, secret.getParent());
        assertRefused(logs(false), "symlinked steps/plan", "steps/plan is a symbolic link");
        assertRefused(logs(true), "symlinked steps/plan, followed", "steps/plan is a symbolic link");
        assertRefused(artifact("steps/plan/logs.txt"), "symlinked steps/plan as an artifact", "symbolic link");

        // the whole steps folder, and the job folder itself
        Files.delete(stepDir);
        Files.delete(jobDir.resolve("steps"));
        Files.createSymbolicLink(jobDir.resolve("steps"), home.resolve("outside-steps"));
        Files.createDirectories(home.resolve("outside-steps/plan"));
        Files.writeString(home.resolve("outside-steps/plan/logs.txt"), SECRET);
        assertRefused(logs(false), "symlinked steps", "steps is a symbolic link");
        assertRefused(logs(true), "symlinked steps, followed", "steps is a symbolic link");
    }

    @Test
    void symlinked_job_folder_is_refused() throws Exception {
        Path moved = home.resolve("moved-job");
        Files.move(jobDir, moved);
        Files.createSymbolicLink(jobDir, moved);
        assertRefused(artifact("report.md"), "symlinked job folder", "the job folder is a symbolic link");
        assertRefused(logs(false), "symlinked job folder, logs", "the job folder is a symbolic link");
    }

    @Test
    void symlinked_artifact_is_refused_even_when_it_points_inside_the_folder() throws Exception {
        Files.createSymbolicLink(jobDir.resolve("escape.txt"), secret);
        Files.createSymbolicLink(jobDir.resolve("inside.md"), jobDir.resolve("report.md"));
        assertRefused(artifact("escape.txt"), "symlink to outside", "symbolic link");
        // a link inside today can be retargeted tomorrow; the runner never makes links, so none is served
        assertRefused(artifact("inside.md"), "symlink to inside", "symbolic link");
        assertThat(artifact("missing.md").status()).isEqualTo(404);
        assertThat(artifact("steps").status()).isEqualTo(404);
    }

    @Test
    void fifo_artifact_is_refused_without_waiting_for_a_writer() throws Exception {
        Process mkfifo = new ProcessBuilder("mkfifo", jobDir.resolve("pipe.txt").toString()).start();
        assertThat(mkfifo.waitFor(10, TimeUnit.SECONDS)).isTrue();
        org.junit.jupiter.api.Assumptions.assumeTrue(mkfifo.exitValue() == 0, "mkfifo is not available");
        assertRefused(artifact("pipe.txt"), "fifo", "not a regular file");
    }

    @Test
    void step_log_swapped_for_a_symlink_while_followed_ends_the_stream_without_serving_it() throws Exception {
        List<String> got = new CopyOnWriteArrayList<>();
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.port + "/jobs/" + id + "/logs?follow=1"))
                .header("Authorization", "Bearer " + ALPHA).build();
        HttpResponse<java.util.stream.Stream<String>> res = http.send(req, HttpResponse.BodyHandlers.ofLines());
        assertThat(res.statusCode()).isEqualTo(200);
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> res.body().forEach(got::add));
        RunningGateway.await(() -> got.contains("data: {\"step_id\":\"plan\",\"line\":\"plan log\"}"),
                Duration.ofSeconds(10), "the first line");

        Path log = jobDir.resolve("steps/plan/logs.txt");
        Files.delete(log);
        Files.createSymbolicLink(log, secret);
        reader.get(10, TimeUnit.SECONDS);
        assertThat(String.join("\n", got)).doesNotContain(SECRET).contains("event: error").contains("unsafe_file");
        Files.writeString(secret, "more\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }
}
