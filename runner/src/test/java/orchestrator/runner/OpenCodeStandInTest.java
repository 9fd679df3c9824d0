package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.runner.standin.OpenAiStandIn;
import orchestrator.runner.standin.OpenAiStandIn.Usage;
import orchestrator.runner.standin.ProviderStandIn;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real OpenCode CLI (1.18.33) against {@link OpenAiStandIn}'s Chat Completions API through a
 * custom {@code @ai-sdk/openai-compatible} provider: each ending the runner knows, reached in
 * bounded time, with no process left and the key in no log.
 */
@Tag("slow")
class OpenCodeStandInTest {
    private static final Duration BOUND = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

    private RunnerFixture runner(OpenAiStandIn s, int concurrency) throws Exception {
        Path bin = OpenAiCliRig.binary("opencode");
        return OpenAiCliRig.runner(tmp, "opencode", bin, OpenAiCliRig.opencodeEnv(tmp.resolve("home"), bin, s), concurrency);
    }

    private static double cost(long in, long out) {
        return (in * OpenAiCliRig.OPENCODE_PRICE_IN + out * OpenAiCliRig.OPENCODE_PRICE_OUT) / 1_000_000;
    }

    /**
     * Also the title defect: without {@code --title} opencode made a second, small-model call to name
     * the session, whose usage no event reported. Now the stand-in sees one call, and the step's
     * tokens are exactly that call's.
     */
    @Test
    void a_text_answer_succeeds_with_the_message_session_turns_tokens_and_cost_and_no_uncounted_call() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            s.then(OpenAiStandIn.text("Hello from the stand-in.", new Usage(1234, 56)));
            String id = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 80", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.state()).as(OpenAiCliRig.log(f, id)).isEqualTo(JobState.SUCCEEDED);
            assertThat(s.modelCalls()).as("every model call the stand-in saw").hasSize(1);
            assertThat(v.tokensIn()).isEqualTo(1234);
            assertThat(v.tokensOut()).isEqualTo(56);
            assertThat(v.costUsd()).isCloseTo(cost(1234, 56), Offset.offset(1e-9));
            StepOutcome o = OpenAiCliRig.outcome(f, id);
            assertThat(o.finalMessage()).isEqualTo("Hello from the stand-in.");
            assertThat(o.sessionId()).startsWith("ses_");
            assertThat(s.modelCalls().get(0).header("x-session-id")).isEqualTo(o.sessionId());
            assertThat(o.turns()).isEqualTo(1);
            assertThat(o.tokensIn()).isEqualTo(1234);
            assertThat(o.tokensOut()).isEqualTo(56);
            assertThat(o.costUsd()).isCloseTo(cost(1234, 56), Offset.offset(1e-9));
            assertThat(o.exitCode()).isZero();
            assertThat(OpenAiCliRig.log(f, id)).doesNotContain("models.dev");
        }
    }

    @Test
    void a_tool_call_that_writes_a_file_shows_in_the_jobs_patch() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            s.then(OpenAiStandIn.writeFile("hello.txt", "written by opencode\n", new Usage(100, 10)),
                    OpenAiStandIn.text("Wrote hello.txt.", new Usage(200, 20)));
            String id = f.enqueue(OpenAiCliRig.job("Write hello.txt.", "\"timeout_sec\": 80", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.state()).as(OpenAiCliRig.log(f, id)).isEqualTo(JobState.SUCCEEDED);
            assertThat(s.modelCalls()).hasSize(2);
            String patch = Files.readString(f.artifacts(id).resolve("patch.diff"));
            assertThat(patch).contains("hello.txt").contains("+written by opencode");
            // one step_finish per model call: two turns, and usage is their sum
            assertThat(v.tokensIn()).isEqualTo(300);
            assertThat(v.tokensOut()).isEqualTo(30);
            assertThat(OpenAiCliRig.outcome(f, id).turns()).isEqualTo(2);
            assertThat(OpenAiCliRig.outcome(f, id).finalMessage()).isEqualTo("Wrote hello.txt.");
        }
    }

    @Test
    void a_401_ends_auth_failed_quickly() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            for (int i = 0; i < 10; i++) {
                s.then(OpenAiStandIn.unauthorized());
            }
            long t0 = System.nanoTime();
            String id = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 80, \"max_retries\": 2", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.errorCode()).as(OpenAiCliRig.log(f, id)).isEqualTo("auth_failed");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
            assertThat(OpenAiCliRig.attempts(f, id)).isEqualTo(1);
        }
    }

    /** 429 for every call of the first opencode process (it retries them itself), answers for the next one. */
    private static ProviderStandIn.Reply rateLimitedFirstRun(AtomicReference<String> firstSession, List<Long> times, int retryAfterSec) {
        return ex -> {
            String session = ex.request().header("x-session-id");
            firstSession.compareAndSet(null, session);
            synchronized (times) {
                times.add(System.nanoTime());
            }
            if (session != null && session.equals(firstSession.get())) {
                OpenAiStandIn.rateLimited(retryAfterSec).send(ex);
            } else {
                OpenAiStandIn.text("Hello after the limit.", new Usage(40, 4)).send(ex);
            }
        };
    }

    @Test
    void a_429_that_opencode_gives_up_on_is_retried_after_the_servers_delay_and_then_succeeds() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            AtomicReference<String> first = new AtomicReference<>();
            List<Long> times = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                s.then(rateLimitedFirstRun(first, times, 2));
            }
            String id = f.enqueue(OpenAiCliRig.job("Say hello.",
                    "\"timeout_sec\": 100, \"idle_timeout_sec\": 30, \"max_retries\": 2, \"retry_backoff_sec\": 1", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.state()).as(OpenAiCliRig.log(f, id)).isEqualTo(JobState.SUCCEEDED);
            assertThat(OpenAiCliRig.attempts(f, id)).isEqualTo(2);
            assertThat(OpenAiCliRig.outcome(f, id).finalMessage()).isEqualTo("Hello after the limit.");
            assertThat(OpenAiCliRig.log(f, id)).contains("retry-after");
            synchronized (times) {
                int n = times.size();
                assertThat(Duration.ofNanos(times.get(n - 1) - times.get(n - 2)))
                        .as("the pause before the second attempt is at least the provider's retry-after")
                        .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
            }
        }
    }

    @Test
    void a_429_that_never_clears_ends_rate_limited_after_the_steps_retries() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            for (int i = 0; i < 40; i++) {
                s.then(OpenAiStandIn.rateLimited(1));
            }
            String id = f.enqueue(OpenAiCliRig.job("Say hello.",
                    "\"timeout_sec\": 100, \"idle_timeout_sec\": 30, \"max_retries\": 1, \"retry_backoff_sec\": 1", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.errorCode()).as(OpenAiCliRig.log(f, id)).isEqualTo("rate_limited");
            assertThat(OpenAiCliRig.attempts(f, id)).isEqualTo(2);
        }
    }

    @ParameterizedTest(name = "HTTP {0}")
    @ValueSource(ints = {500, 503})
    void a_server_error_ends_provider_error_in_bounded_time(int status) throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            for (int i = 0; i < 20; i++) {
                s.then(status == 500 ? OpenAiStandIn.serverError() : OpenAiStandIn.overloaded());
            }
            long t0 = System.nanoTime();
            String id = f.enqueue(OpenAiCliRig.job("Say hello.",
                    "\"timeout_sec\": 100, \"idle_timeout_sec\": 30, \"max_retries\": 0", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.errorCode()).as("%s; log:\n%s", v.errorMessage(), OpenAiCliRig.log(f, id)).isEqualTo("provider_error");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(60));
        }
    }

    @Test
    void a_stream_that_stalls_halfway_ends_idle_timeout() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            s.then(OpenAiStandIn.stalled());
            String id = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 80, \"idle_timeout_sec\": 8, \"max_retries\": 0", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.errorCode()).as("%s; log:\n%s", v.errorMessage(), OpenAiCliRig.log(f, id)).isEqualTo("idle_timeout");
        }
    }

    @Test
    void a_stream_that_never_ends_ends_timeout() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            s.then(OpenAiStandIn.neverEnding());
            String id = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 12, \"idle_timeout_sec\": 60, \"max_retries\": 0", ""));
            JobView v = OpenAiCliRig.finish(f, id, BOUND);
            assertThat(v.errorCode()).as("%s; log:\n%s", v.errorMessage(), OpenAiCliRig.log(f, id)).isEqualTo("timeout");
        }
    }

    @Test
    void usage_over_max_tokens_ends_budget_exceeded() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 1)) {
            for (int run = 0; run < 2; run++) {
                s.then(OpenAiStandIn.text("That was expensive.", new Usage(2_400_000, 100_000)));
                String id = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 80",
                        "{\"budget\": {\"max_tokens\": 100000}}"));
                JobView v = OpenAiCliRig.finish(f, id, BOUND);
                assertThat(v.errorCode()).as("run %d: %s %s", run, v.state(), v.errorMessage()).isEqualTo("budget_exceeded");
                assertThat(v.tokensIn() + v.tokensOut()).isEqualTo(2_500_000);
            }
        }
    }

    /**
     * Bun reserves far more address space than it uses; under the runner's default 4 GB rlimit about
     * one run in fifteen died ("ASSERTION FAILED: MemoryExhaustion", SIGILL, "Out of memory"). With
     * the adapter's minimum every run of a batch, two at a time, under the default limits succeeds.
     * With one opencode database for all of them, one run in sixteen died "database is locked" (CI, at
     * d36be88), and two first starts raced on its migrations (3 in 18): each job has its own now, so
     * the batch starts on a host where opencode never ran.
     */
    @Test
    void many_runs_under_the_default_limits_all_succeed_each_in_its_own_database() throws Exception {
        try (OpenAiStandIn s = new OpenAiStandIn(); RunnerFixture f = runner(s, 2)) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                ids.add(f.enqueue(OpenAiCliRig.job("Say hello " + i + ".", "\"timeout_sec\": 80, \"max_retries\": 0", "")));
            }
            for (String id : ids) {
                JobView v = OpenAiCliRig.finish(f, id, Duration.ofSeconds(240));
                assertThat(v.state()).as("job %s: %s %s; log:\n%s", id, v.errorCode(), v.errorMessage(), OpenAiCliRig.log(f, id))
                        .isEqualTo(JobState.SUCCEEDED);
                assertThat(jobDatabase(f, id)).isRegularFile();
            }
            assertThat(sharedDatabase()).as("the database every opencode run of the user shares").doesNotExist();
        }
    }

    private static Path jobDatabase(RunnerFixture f, String id) {
        return f.core.workspacesDir().resolve(".agents").resolve(id).resolve("opencode.db");
    }

    private Path sharedDatabase() {
        return tmp.resolve("home").resolve(".local/share/opencode/opencode.db");
    }

    /**
     * Whatever another process does with the user's own opencode database (here: a write transaction
     * held open, as a stopped or hung opencode would), a job does not depend on it, and its later
     * continuation resumes the session from the job's database. An operator's own {@code OPENCODE_DB}
     * in the agent's env wins: that job uses the locked database and dies of it, the failure every job
     * met before each had its own.
     */
    @Test
    void a_lock_on_the_users_own_opencode_database_stops_no_job_and_an_operators_OPENCODE_DB_wins() throws Exception {
        Path bin = OpenAiCliRig.binary("opencode");
        Path shared = sharedDatabase();
        try (OpenAiStandIn s = new OpenAiStandIn()) {
            Map<String, String> env = OpenAiCliRig.opencodeEnv(tmp.resolve("home"), bin, s);
            Map<String, String> own = new java.util.HashMap<>(env);
            own.put("OPENCODE_DB", shared.toString());
            // the user's own opencode ran once on the host: its database is a real one
            s.then(OpenAiStandIn.text("The user's own run.", new Usage(1, 1)));
            OpenAiCliRig.Run users = OpenAiCliRig.runOnce("opencode", bin, own,
                    RunnerFixture.gitProject(tmp.resolve("users-project"), Map.of("README.md", "# mine\n")), "Hi.", null);
            assertThat(users.exit()).as(users.output()).isZero();
            assertThat(shared).isRegularFile();
            int before = s.modelCalls().size();
            java.sql.Connection lock = java.sql.DriverManager.getConnection("jdbc:sqlite:" + shared);
            java.sql.Statement st = lock.createStatement();
            st.execute("BEGIN IMMEDIATE");
            try (RunnerFixture f = OpenAiCliRig.runner(tmp, Map.of(
                    "real", Map.of("type", "opencode", "binary", bin.toString(), "env", env),
                    "own-db", Map.of("type", "opencode", "binary", bin.toString(), "env", own)), 1)) {
                s.then(OpenAiStandIn.text("Hello while locked.", new Usage(10, 2)), OpenAiStandIn.text("Still here.", new Usage(20, 3)));
                String id = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 80, \"max_retries\": 0", ""));
                JobView v = OpenAiCliRig.finish(f, id, BOUND);
                assertThat(v.state()).as("%s %s; log:\n%s", v.errorCode(), v.errorMessage(), OpenAiCliRig.log(f, id)).isEqualTo(JobState.SUCCEEDED);
                assertThat(jobDatabase(f, id)).isRegularFile();
                String session = OpenAiCliRig.outcome(f, id).sessionId();

                f.store.continueJob(id, "Go on.", "test");
                JobView c = f.awaitJob(id, j -> j.state().isFinal() && j.steps().size() == 2, BOUND);
                assertThat(c.state()).as("%s %s", c.errorCode(), c.errorMessage()).isEqualTo(JobState.SUCCEEDED);
                assertThat(StepOutcome.read(f.artifacts(id), "continue_1").sessionId()).as("the job's session, resumed").isEqualTo(session);
                assertThat(s.modelCalls()).hasSize(before + 2);
                assertThat(OpenAiStandIn.texts(s.modelCalls().get(before + 1))).contains("assistant: Hello while locked.");

                String mine = f.enqueue(OpenAiCliRig.job("Say hello.", "\"timeout_sec\": 80, \"max_retries\": 0", "")
                        .replace("\"agent\": \"real\"", "\"agent\": \"own-db\""));
                JobView m = OpenAiCliRig.finish(f, mine, BOUND);
                assertThat(m.state()).isEqualTo(JobState.FAILED);
                // opencode says it either way, by when its 5 s busy_timeout ran out
                assertThat(OpenAiCliRig.log(f, mine)).containsAnyOf("database is locked", "Failed query: insert");
                // opencode colours its "Error:" line (with or without TERM, NO_COLOR or not): the log keeps the text alone
                assertThat(OpenAiCliRig.log(f, mine)).contains("Error: ").doesNotContain("\u001b");
                assertThat(m.errorMessage()).isNotBlank().doesNotContain("\u001b");
                assertThat(f.core.workspacesDir().resolve(".agents").resolve(mine)).doesNotExist();
            } finally {
                lock.close();
            }
        }
    }

    @Test
    void a_resumed_session_sends_the_first_prompt_and_answer_again() throws Exception {
        Path bin = OpenAiCliRig.binary("opencode");
        try (OpenAiStandIn s = new OpenAiStandIn()) {
            Map<String, String> env = OpenAiCliRig.opencodeEnv(tmp.resolve("home"), bin, s);
            Path ws = RunnerFixture.gitProject(tmp.resolve("ws"), Map.of("README.md", "# demo\n"));
            s.then(OpenAiStandIn.text("The first answer.", new Usage(10, 2)), OpenAiStandIn.text("The second answer.", new Usage(20, 3)));
            OpenAiCliRig.Run first = OpenAiCliRig.runOnce("opencode", bin, env, ws, "The first prompt.", null);
            assertThat(first.exit()).as(first.output()).isZero();
            assertThat(first.report().sessionId()).startsWith("ses_");
            OpenAiCliRig.Run second = OpenAiCliRig.runOnce("opencode", bin, env, ws, "The second prompt.", first.report().sessionId());
            assertThat(second.exit()).as(second.output()).isZero();
            assertThat(second.report().sessionId()).isEqualTo(first.report().sessionId());
            assertThat(second.report().finalMessage()).isEqualTo("The second answer.");
            assertThat(second.report().tokensIn()).as("only the resumed run's own call").isEqualTo(20);
            assertThat(s.modelCalls()).hasSize(2);
            List<String> sent = OpenAiStandIn.texts(s.modelCalls().get(1));
            assertThat(sent).anyMatch(t -> t.startsWith("user: The first prompt."))
                    .contains("assistant: The first answer.")
                    .anyMatch(t -> t.startsWith("user: The second prompt."));
        }
    }
}
