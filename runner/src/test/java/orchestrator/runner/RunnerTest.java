package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import orchestrator.core.Json;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.core.store.SqliteJobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunnerTest {
    private static final Duration FINISH = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private static String agents(String name, String argvJson) {
        return "{\"" + name + "\": {\"type\": \"command\", \"argv\": " + argvJson + "}}";
    }

    private static String shAgent(String name, String script) {
        return agents(name, Json.write(List.of("sh", "-c", script)));
    }

    private static String oneStep(String agent, String extra) {
        return "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"" + agent + "\", \"prompt\": \"do it\""
                + (extra.isEmpty() ? "" : ", " + extra) + "}]}";
    }

    private static JsonNode json(Path p) throws IOException {
        return Json.parse(Files.readString(p));
    }

    @Test
    void default_pipeline_job_succeeds_with_simulated_agents_and_writes_every_artifact() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of()).start()) {
            String id = f.enqueue("{\"goal\": \"Add a health check\\nmore detail\"}");
            JobView v = f.awaitFinal(id, FINISH);

            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(v.steps()).extracting(s -> s.status()).containsOnly("succeeded");
            Path a = f.artifacts(id);
            for (String file : List.of("job.json", "result.json", "report.md", "patch.diff", "logs.txt")) {
                assertThat(a.resolve(file)).exists();
            }
            for (String step : List.of("01_plan", "02_implement", "03_review")) {
                for (String file : List.of("result.json", "report.md", "patch.diff", "logs.txt")) {
                    assertThat(a.resolve("steps").resolve(step).resolve(file)).exists();
                }
            }
            JsonNode result = json(a.resolve("result.json"));
            assertThat(result.get("job_id").asText()).isEqualTo(id);
            assertThat(result.get("status").asText()).isEqualTo("success");
            assertThat(result.get("metrics").get("state").asText()).isEqualTo("succeeded");
            assertThat(result.get("error").isNull()).isTrue();
            assertThat(result.get("steps")).hasSize(3);
            assertThat(result.get("summary").asText()).contains("claude").contains("reviewer").contains("Review the changes");
            assertThat(json(a.resolve("job.json")).get("spec").get("goal").asText()).startsWith("Add a health check");
            assertThat(Files.readString(a.resolve("logs.txt"))).contains("===== step 02_implement");
            assertThat(v.result()).containsEntry("status", "success");
        }
    }

    @Test
    void command_agent_runs_each_of_50_jobs_exactly_once_with_concurrency_4() throws IOException {
        Path ran = tmp.resolve("ran.txt");
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("append", "echo {job_id} >> " + ran), Map.of("RUNNER_CONCURRENCY", "4")).start()) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                ids.add(f.enqueue(oneStep("append", "")));
            }
            for (String id : ids) {
                assertThat(f.awaitFinal(id, Duration.ofSeconds(60)).state()).isEqualTo(JobState.SUCCEEDED);
            }
            List<String> lines = Files.readAllLines(ran);
            assertThat(lines).hasSize(50);
            assertThat(new HashSet<>(lines)).isEqualTo(new HashSet<>(ids));
        }
    }

    @Test
    void failing_command_fails_the_job_with_agent_exit_nonzero_after_its_retries() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("bad", "echo failing; exit 3"), Map.of()).start()) {
            String id = f.enqueue(oneStep("bad", "\"max_retries\": 1, \"retry_backoff_sec\": 0"));
            JobView v = f.awaitFinal(id, FINISH);

            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("agent_exit_nonzero");
            assertThat(v.steps().get(0).exitCode()).isEqualTo(3);
            assertThat(v.steps().get(0).errorCode()).isEqualTo("agent_exit_nonzero");
            JsonNode step = json(f.artifacts(id).resolve("steps/s1/result.json"));
            assertThat(step.get("attempts").asInt()).isEqualTo(2);
            assertThat(step.get("metrics").get("exit_code").asInt()).isEqualTo(3);
            assertThat(Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"))).contains("failing").contains("attempt 2");
            assertThat(json(f.artifacts(id).resolve("result.json")).get("error").get("code").asText()).isEqualTo("agent_exit_nonzero");
        }
    }

    @Test
    void command_that_fails_once_succeeds_on_its_retry() throws IOException {
        String script = "if [ -f {artifacts_dir}/tried ]; then echo second; else touch {artifacts_dir}/tried; exit 1; fi";
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("flaky", script), Map.of()).start()) {
            String id = f.enqueue(oneStep("flaky", "\"max_retries\": 2, \"retry_backoff_sec\": 0"));
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            JsonNode step = json(f.artifacts(id).resolve("steps/s1/result.json"));
            assertThat(step.get("attempts").asInt()).isEqualTo(2);
            assertThat(step.get("summary").asText()).isEqualTo("second");
        }
    }

    @Test
    void step_over_its_timeout_is_killed_and_reported_timeout() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("slow", "sleep 300"), Map.of()).start()) {
            long t0 = System.nanoTime();
            String id = f.enqueue(oneStep("slow", "\"timeout_sec\": 1"));
            JobView v = f.awaitFinal(id, FINISH);

            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("timeout");
            assertThat(v.steps().get(0).errorCode()).isEqualTo("timeout");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(15));
        }
    }

    @Test
    void step_without_output_for_its_idle_timeout_is_killed_and_reported_idle_timeout() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("quiet", "echo started; sleep 300"), Map.of("RUNNER_MAX_IDLE_SEC", "1")).start()) {
            String id = f.enqueue(oneStep("quiet", "\"timeout_sec\": 120"));
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.errorCode()).isEqualTo("idle_timeout");
        }
    }

    @Test
    void background_child_that_called_setsid_does_not_survive_the_timeout() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("escape", "setsid sh -c 'sleep 300' & sleep 300"), Map.of()).start()) {
            String id = f.enqueue(oneStep("escape", "\"timeout_sec\": 1"));
            f.awaitStepRunning(id, "s1");
            RunnerFixture.await("the escaped child to exist", () -> !processesOf(id).isEmpty(), Duration.ofSeconds(10));

            assertThat(f.awaitFinal(id, FINISH).errorCode()).isEqualTo("timeout");
            RunnerFixture.await("every process of job " + id + " to be gone", () -> processesOf(id).isEmpty(), Duration.ofSeconds(10));
        }
    }

    /** Live processes whose environment says they belong to this job. */
    private static List<Long> processesOf(String jobId) {
        byte[] marker = ("ORCH_JOB_ID=" + jobId).getBytes(StandardCharsets.US_ASCII);
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : ds) {
                try {
                    String env = new String(Files.readAllBytes(p.resolve("environ")), StandardCharsets.ISO_8859_1);
                    if (env.contains(new String(marker, StandardCharsets.ISO_8859_1))) {
                        out.add(Long.parseLong(p.getFileName().toString()));
                    }
                } catch (IOException e) {
                    // exited meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    @Test
    void cancel_during_a_step_ends_the_job_cancelled_within_one_heartbeat() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("slow", "sleep 300"), Map.of()).start()) {
            String id = f.enqueue(oneStep("slow", ""));
            f.awaitStepRunning(id, "s1");
            RunnerFixture.await("the step's process", () -> !processesOf(id).isEmpty(), Duration.ofSeconds(10));

            f.store.cancel(id, "test");
            // heartbeat every ttl/3 = 1 s, plus the kill and the final write
            JobView v = f.awaitFinal(id, f.core.leaseTtl().dividedBy(3).plusSeconds(3));
            assertThat(v.state()).isEqualTo(JobState.CANCELLED);
            assertThat(v.errorCode()).isEqualTo("cancelled");
            assertThat(v.steps().get(0).status()).isEqualTo("cancelled");
            assertThat(processesOf(id)).isEmpty();
        }
    }

    @Test
    void secrets_printed_by_a_step_do_not_reach_its_log() throws IOException {
        String agents = "{\"leaky\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", "
                + "\"echo key=$MY_SERVICE_KEY; echo anthropic=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123; echo aws=AKIAABCDEFGHIJKLMNOP; echo plain=visible\"], "
                + "\"env\": {\"MY_SERVICE_KEY\": \"hunter2-very-secret-value\"}}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("SENSITIVE_ENV_VARS", "MY_SERVICE_KEY")).start()) {
            String id = f.enqueue(oneStep("leaky", ""));
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);

            for (Path log : List.of(f.artifacts(id).resolve("steps/s1/logs.txt"), f.artifacts(id).resolve("logs.txt"))) {
                String text = Files.readString(log);
                assertThat(text).doesNotContain("hunter2-very-secret-value").doesNotContain("sk-ant-api03")
                        .doesNotContain("AKIAABCDEFGHIJKLMNOP")
                        .contains("key=[REDACTED]").contains("plain=visible");
            }
        }
    }

    @Test
    void step_environment_holds_only_allowlisted_variables() throws IOException {
        String agents = "{\"envdump\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"env > {artifacts_dir}/env.txt\"], "
                + "\"env\": {\"AGENT_EXTRA\": \"1\"}}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("ENV_ALLOWLIST", "PATH,HOME")).start()) {
            String id = f.enqueue(oneStep("envdump", ""));
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);

            Set<String> names = new HashSet<>();
            for (String line : Files.readAllLines(f.artifacts(id).resolve("env.txt"))) {
                if (line.contains("=")) {
                    names.add(line.substring(0, line.indexOf('=')));
                }
            }
            // PWD, SHLVL and OLDPWD are set by the shell itself, not inherited; TMPDIR, TMP and TEMP name the
            // step's own temporary folder (the runner's, not the runner's environment's)
            Set<String> allowed = Set.of("PATH", "HOME", "AGENT_EXTRA", "ORCH_JOB_ID", "ORCH_STEP_ID", "ORCH_STEP_TOKEN", "ORCH_NETWORK", "ORCH_LEASE",
                    "TMPDIR", "TMP", "TEMP", "PWD", "SHLVL", "OLDPWD", "_");
            assertThat(allowed).containsAll(names);
            assertThat(names).contains("ORCH_JOB_ID", "ORCH_STEP_ID", "ORCH_STEP_TOKEN", "AGENT_EXTRA", "PATH", "TMPDIR");
        }
    }

    @Test
    void drain_kills_and_releases_a_running_job_back_to_the_queue() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("slow", "sleep 300"), Map.of()).start()) {
            String id = f.enqueue(oneStep("slow", ""));
            f.awaitStepRunning(id, "s1");
            RunnerFixture.await("the step's process", () -> !processesOf(id).isEmpty(), Duration.ofSeconds(10));

            f.runner.drain(Duration.ofMillis(200));

            assertThat(f.runner.running()).isZero();
            JobView v = f.job(id);
            assertThat(v.state()).isEqualTo(JobState.QUEUED);
            assertThat(v.steps().get(0).status()).isEqualTo("pending");
            RunnerFixture.await("the step's processes to be gone", () -> processesOf(id).isEmpty(), Duration.ofSeconds(10));
        }
    }

    @Test
    void lease_lost_mid_step_kills_the_step_writes_nothing_and_the_runner_keeps_working() throws IOException {
        String agents = "{\"slow\": {\"type\": \"command\", \"argv\": [\"sleep\", \"300\"]}, "
                + "\"quick\": {\"type\": \"command\", \"argv\": [\"true\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String id = f.enqueue(oneStep("slow", ""));
            f.awaitStepRunning(id, "s1");
            RunnerFixture.await("the step's process", () -> !processesOf(id).isEmpty(), Duration.ofSeconds(10));

            // another process whose clock is an hour ahead sees the lease expired; with one allowed
            // attempt it fails the job with lease_lost, so the job is no longer ours
            try (SqliteJobStore other = new SqliteJobStore(f.core.databasePath(),
                    Clock.offset(Clock.systemUTC(), Duration.ofHours(1)), f.core.leaseTtl(), 1)) {
                assertThat(other.requeueExpired("other")).isEqualTo(1);
            }
            RunnerFixture.await("the runner to drop the lost job", () -> f.runner.running() == 0, Duration.ofSeconds(10));
            RunnerFixture.await("the step's process to be killed", () -> processesOf(id).isEmpty(), Duration.ofSeconds(10));

            JobView v = f.job(id);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("lease_lost");
            assertThat(v.steps().get(0).status()).isEqualTo("running"); // the runner wrote no final step record
            assertThat(f.artifacts(id).resolve("result.json")).doesNotExist();

            String next = f.enqueue(oneStep("quick", ""));
            assertThat(f.awaitFinal(next, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
        }
    }

    @Test
    void write_with_a_lost_lease_is_refused() {
        // the store's fencing, seen from a runner's side: the old token cannot write after a re-lease
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of())) {
            String id = f.enqueue("{\"goal\": \"g\"}");
            var first = f.store.lease("a", 1).get(0);
            try (SqliteJobStore other = new SqliteJobStore(f.core.databasePath(),
                    Clock.offset(Clock.systemUTC(), Duration.ofHours(1)), f.core.leaseTtl(), 5)) {
                other.requeueExpired("other");
                assertThat(other.lease("b", 1)).extracting(l -> l.jobId()).containsExactly(id);
            }
            assertThatThrownBy(() -> f.store.finish(first, orchestrator.core.store.Outcome.succeeded(Map.of(), 0, 0, 0)))
                    .isInstanceOf(orchestrator.core.store.LeaseLostException.class);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void step_patches_hold_only_their_own_changes_and_the_job_patch_holds_all() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        String agents = shAgent("write", "echo {step_id} > {step_id}.txt && echo changed >> README.md");
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": ["
                    + "{\"step_id\": \"a\", \"agent\": \"write\", \"prompt\": \"p\"},"
                    + "{\"step_id\": \"b\", \"agent\": \"write\", \"prompt\": \"p\"}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);

            String a = Files.readString(f.artifacts(id).resolve("steps/a/patch.diff"));
            String b = Files.readString(f.artifacts(id).resolve("steps/b/patch.diff"));
            String all = Files.readString(f.artifacts(id).resolve("patch.diff"));
            assertThat(a).contains("a.txt").doesNotContain("b.txt");
            assertThat(b).contains("b.txt").doesNotContain("a.txt");
            assertThat(all).contains("a.txt").contains("b.txt").contains("README.md");
            // the source repository is untouched
            assertThat(Files.readString(repo.resolve("README.md"))).isEqualTo("hello\n");
        }
    }

    @Test
    void project_with_a_symlink_escaping_its_folder_fails_the_job_with_workspace() throws IOException {
        Path proj = tmp.resolve("plain");
        Files.createDirectories(proj);
        Files.writeString(proj.resolve("ok.txt"), "x");
        Files.createSymbolicLink(proj.resolve("passwd"), Path.of("/etc/passwd"));
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of("PROJECT_ALIASES", "plain=" + proj)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"plain\"}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("workspace");
            assertThat(v.errorMessage()).contains("passwd");
        }
    }

    @Test
    void plain_project_folder_is_copied_into_the_workspace() throws IOException {
        Path proj = tmp.resolve("plain");
        Files.createDirectories(proj.resolve("sub"));
        Files.writeString(proj.resolve("sub/file.txt"), "content");
        Files.createSymbolicLink(proj.resolve("link"), Path.of("sub/file.txt"));
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("cat", "cat link > {artifacts_dir}/seen.txt"),
                Map.of("PROJECT_ALIASES", "plain=" + proj)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"plain\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"cat\", \"prompt\": \"p\"}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(id).resolve("seen.txt"))).isEqualTo("content");
            assertThat(Files.readString(f.artifacts(id).resolve("patch.diff"))).isEmpty();
        }
    }

    @Test
    void on_failure_continue_runs_the_next_step_and_ask_human_pauses_the_job() throws IOException {
        String agents = "{\"bad\": {\"type\": \"command\", \"argv\": [\"false\"]}, \"good\": {\"type\": \"command\", \"argv\": [\"true\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String cont = f.enqueue("{\"goal\": \"g\", \"steps\": ["
                    + "{\"step_id\": \"a\", \"agent\": \"bad\", \"prompt\": \"p\", \"max_retries\": 0, \"on_failure\": \"continue\"},"
                    + "{\"step_id\": \"b\", \"agent\": \"good\", \"prompt\": \"p\"}]}");
            JobView v = f.awaitFinal(cont, FINISH);
            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(v.steps()).extracting(s -> s.stepId() + "=" + s.status()).containsExactlyInAnyOrder("a=failed", "b=succeeded");

            String ask = f.enqueue("{\"goal\": \"g\", \"steps\": ["
                    + "{\"step_id\": \"a\", \"agent\": \"bad\", \"prompt\": \"p\", \"max_retries\": 0, \"on_failure\": \"ask_human\"},"
                    + "{\"step_id\": \"b\", \"agent\": \"good\", \"prompt\": \"p\"}]}");
            JobView h = f.awaitFinal(ask, FINISH);
            assertThat(h.state()).isEqualTo(JobState.NEEDS_HUMAN);
            assertThat(h.resumeStep()).isEqualTo("a");
        }
    }

    @Test
    void goto_on_failure_repeats_a_step_at_most_three_times_then_fails_the_job() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("bad", "echo x >> {artifacts_dir}/count; exit 1"), Map.of()).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"a\", \"agent\": \"bad\", \"prompt\": \"p\", "
                    + "\"max_retries\": 0, \"on_failure\": \"goto:a\"}]}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("agent_exit_nonzero");
            assertThat(Files.readAllLines(f.artifacts(id).resolve("count"))).hasSize(1 + JobRun.MAX_GOTO_REPEATS);
        }
    }

    @Test
    void bad_runner_concurrency_names_the_variable() {
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("RUNNER_CONCURRENCY", "0"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("RUNNER_CONCURRENCY");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("RUNNER_MAX_IDLE_SEC", "x"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("RUNNER_MAX_IDLE_SEC");
        RunnerConfig c = RunnerConfig.from(new Env(Map.of("SENSITIVE_ENV_VARS", "MINE")));
        assertThat(c.concurrency()).isEqualTo(2);
        assertThat(c.sensitiveEnvVars()).contains("MINE", "ANTHROPIC_API_KEY", "WEBHOOK_TOKEN");
        assertThat(c.envAllowlist()).contains("PATH", "HOME", "TMPDIR");
        assertThat(c.drainGraceSec()).isEqualTo(60);
    }


    @Test
    void a_retry_waits_for_the_providers_retry_after_when_it_is_longer_than_the_backoff_and_never_more_than_5_minutes() {
        orchestrator.core.job.Step step = new orchestrator.core.job.Step("s1", "a", "r", "p", 60, 0, 2, 3, List.of(), List.of(), null, null, null);
        java.util.function.Function<Long, orchestrator.runner.agent.AgentReport> withRetryAfter = ms -> new orchestrator.runner.agent.AgentReport(
                null, null, 0, 0, 0, 0, false, true, "rate_limited", "429", 1, null, null, List.of(), List.of(), ms);
        assertThat(JobRun.retryPause(step, null)).isEqualTo(Duration.ofSeconds(3));
        assertThat(JobRun.retryPause(step, withRetryAfter.apply(null))).isEqualTo(Duration.ofSeconds(3));
        assertThat(JobRun.retryPause(step, withRetryAfter.apply(1_000L))).isEqualTo(Duration.ofSeconds(3));
        assertThat(JobRun.retryPause(step, withRetryAfter.apply(7_500L))).isEqualTo(Duration.ofMillis(7_500));
        assertThat(JobRun.retryPause(step, withRetryAfter.apply(3_600_000L))).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void a_cli_submitted_jobs_workdir_is_copied_into_its_workspace_and_any_other_sources_is_not_used() throws Exception {
        Path local = Files.createDirectories(tmp.resolve("local-project"));
        Files.writeString(local.resolve("notes.txt"), "from the workdir\n");
        String agents = "{\"ls\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"ls > {artifacts_dir}/seen.txt\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String payload = "{\"goal\": \"g\", \"workdir\": " + orchestrator.core.Json.write(local.toString())
                    + ", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"ls\", \"prompt\": \"p\"}]}";
            var spec = f.core.agents().parser().parse(orchestrator.core.Json.parse(payload));
            String cli = f.store.enqueue(new orchestrator.core.store.NewJob(spec, orchestrator.core.job.Source.of("cli"), "test")).jobId();
            String api = f.enqueue(payload);
            assertThat(f.awaitFinal(cli, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(f.awaitFinal(api, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(cli).resolve("seen.txt"))).contains("notes.txt");
            assertThat(Files.readString(f.artifacts(api).resolve("seen.txt"))).doesNotContain("notes.txt");
            assertThat(Files.readString(local.resolve("notes.txt"))).isEqualTo("from the workdir\n");
        }
    }
}
