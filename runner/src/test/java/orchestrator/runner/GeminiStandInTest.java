package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.JobView;
import orchestrator.runner.standin.GeminiStandIn;
import orchestrator.runner.standin.ProviderStandIn;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real Gemini CLI ({@code scripts/install-agent-clis.sh}) run by the runner against {@link
 * GeminiStandIn} on 127.0.0.1: every way a step ends, each in bounded time and leaving no process.
 * HOME is a fresh folder whose settings.json selects API-key auth (so the base URL is honoured) and
 * turns usage statistics off (else the CLI looks up play.googleapis.com).
 */
@Tag("slow")
class GeminiStandInTest {
    /** Looks like a key, so a redaction miss would show; listed in SENSITIVE_ENV_VARS. */
    private static final String KEY = "AIzaSy" + "StandInKeyNotARealKey0123456789";
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    Path tmp;
    private Path binary;

    @BeforeEach
    void cli() {
        binary = RealCliTest.binDir().resolve("gemini");
        assumeTrue(Files.isExecutable(binary), binary + " is not installed: run scripts/install-agent-clis.sh");
    }

    /** A runner whose agent {@code gem} is the real gemini pointed at {@code baseUrl}. */
    private RunnerFixture runner(String baseUrl, Map<String, String> extra) throws IOException {
        Path home = Files.createDirectories(tmp.resolve("home-gemini").resolve(".gemini")).getParent();
        Files.writeString(home.resolve(".gemini/settings.json"), Json.write(Map.of(
                "security", Map.of("auth", Map.of("selectedType", "gemini-api-key")),
                "privacy", Map.of("usageStatisticsEnabled", false))));
        Map<String, String> env = new HashMap<>();
        env.put("HOME", home.toString());
        env.put("PATH", binary.getParent() + ":" + System.getenv("PATH"));
        env.put("GEMINI_API_KEY", KEY);
        env.put("GOOGLE_GEMINI_BASE_URL", baseUrl);
        String agents = Json.write(Map.of("gem", Map.of("type", "gemini", "binary", binary.toString(), "env", env)));
        Map<String, String> config = new HashMap<>(extra);
        config.put("ENABLE_REAL_CLI", "1");
        config.put("SENSITIVE_ENV_VARS", "GEMINI_API_KEY");
        return new RunnerFixture(tmp, agents, config).start();
    }

    private static String job(String stepExtra, String jobExtra) {
        return "{\"goal\": \"g\", " + (jobExtra.isEmpty() ? "" : jobExtra + ", ")
                + "\"steps\": [{\"step_id\": \"s1\", \"agent\": \"gem\", \"prompt\": \"Say hello.\", \"timeout_sec\": 50,"
                + " \"idle_timeout_sec\": 20, \"max_retries\": 0" + (stepExtra.isEmpty() ? "" : ", " + stepExtra) + "}]}";
    }

    /** Runs a job to its end: the view, with the checks every case shares. */
    private Ended run(RunnerFixture f, String payload) throws IOException {
        long t0 = System.nanoTime();
        String id = f.enqueue(payload);
        JobView v = f.awaitFinal(id, BOUND);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        String log = Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"));
        assertThat(RealCliTest.processesOf(id)).as("processes of job %s", id).isEmpty();
        assertThat(log).doesNotContain(KEY);
        return new Ended(id, v, StepOutcome.read(f.artifacts(id), "s1"), log, ms);
    }

    private record Ended(String id, JobView view, StepOutcome step, String log, long ms) {
        Ended failsWith(String code) {
            assertThat(view.state()).as("log:\n%s", log).isEqualTo(JobState.FAILED);
            assertThat(view.errorCode()).as("after %d ms: %s; log:\n%s", ms, view.errorMessage(), log).isEqualTo(code);
            assertThat(step.errorCode()).isEqualTo(code);
            return this;
        }
    }

    @Test
    void a_text_answer_succeeds_with_its_message_session_turns_and_exact_tokens() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            api.then(GeminiStandIn.text("Hello from the stand-in.", 123, 7));
            Ended e = run(f, job("", ""));
            assertThat(e.view().state()).as(e.log()).isEqualTo(JobState.SUCCEEDED);
            assertThat(e.step().finalMessage()).isEqualTo("Hello from the stand-in.");
            assertThat(e.step().sessionId()).matches("[0-9a-f-]{36}");
            assertThat(e.log()).contains("\"session_id\":\"" + e.step().sessionId() + "\"");
            assertThat(e.step().turns()).isEqualTo(1);
            assertThat(e.step().tokensIn()).isEqualTo(123);
            assertThat(e.step().tokensOut()).isEqualTo(7);
            assertThat(e.view().tokensIn()).isEqualTo(123);
            assertThat(e.view().tokensOut()).isEqualTo(7);
            ProviderStandIn.Request call = api.modelCalls().get(0);
            assertThat(call.header("x-goog-api-key")).isEqualTo(KEY);
            assertThat(call.body()).contains("Say hello.");
        }
    }

    @Test
    void two_allowed_tools_run_a_shell_command_and_write_a_file_that_show_in_the_patch() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        try (GeminiStandIn api = new GeminiStandIn();
             RunnerFixture f = runner(api.baseUrl(), Map.of("PROJECT_ALIASES", "demo=" + repo))) {
            api.then(GeminiStandIn.shell("touch made-by-shell.txt"), GeminiStandIn.writeFile("hello.txt", "hi there\n"),
                    GeminiStandIn.text("Wrote hello.txt.", 300, 9));
            Ended e = run(f, job("\"allowed_tools\": [\"run_shell_command\", \"write_file\"]", "\"project_id\": \"demo\""));
            assertThat(e.view().state()).as(e.log()).isEqualTo(JobState.SUCCEEDED);
            assertThat(e.step().finalMessage()).isEqualTo("Wrote hello.txt.");
            assertThat(e.step().turns()).isEqualTo(3);
            // the result stats sum every model call: 100+5 for each tool call, then the answer
            assertThat(e.step().tokensIn()).isEqualTo(500);
            assertThat(e.step().tokensOut()).isEqualTo(19);
            String patch = Files.readString(f.artifacts(e.id()).resolve("patch.diff"));
            assertThat(patch).contains("hello.txt", "+hi there", "made-by-shell.txt");
            // the tool results went back to the model
            assertThat(api.modelCalls()).hasSize(3);
            assertThat(api.modelCalls().get(2).body()).contains("functionResponse");
        }
    }

    @Test
    void a_job_without_allowed_tools_can_still_edit_its_workspace() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        try (GeminiStandIn api = new GeminiStandIn();
             RunnerFixture f = runner(api.baseUrl(), Map.of("PROJECT_ALIASES", "demo=" + repo))) {
            api.then(GeminiStandIn.writeFile("notes.md", "# Notes\n"), GeminiStandIn.text("Added notes.md.", 60, 4));
            Ended e = run(f, job("", "\"project_id\": \"demo\""));
            assertThat(e.view().state()).as(e.log()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(e.id()).resolve("patch.diff"))).contains("notes.md", "+# Notes");
        }
    }

    @Test
    void a_tool_gemini_refuses_fails_the_step_tool_denied() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            // no allowed_tools: auto_edit gives gemini its edit tools, but no shell
            api.then(GeminiStandIn.shell("touch x.txt"), GeminiStandIn.text("Ran it.", 50, 3));
            Ended e = run(f, job("", "")).failsWith("tool_denied");
            assertThat(e.step().errorMessage()).contains("run_shell_command", "not found");
            assertThat(e.step().finalMessage()).isEqualTo("Ran it.");
        }
    }

    @Test
    void a_rejected_key_ends_auth_failed_at_once() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            api.then(GeminiStandIn.unauthenticated());
            Ended e = run(f, job("", "")).failsWith("auth_failed");
            assertThat(e.ms()).isLessThan(30_000);
            assertThat(e.step().errorMessage()).contains("API key not valid");
            assertThat(api.modelCalls()).hasSize(1);
        }
    }

    @Test
    void a_429_ends_rate_limited_early_instead_of_running_to_the_timeout() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            api.then(GeminiStandIn.resourceExhausted(0), GeminiStandIn.resourceExhausted(0));
            Ended e = run(f, job("", "")).failsWith("rate_limited");
            // gemini itself would retry for minutes; the step's timeout is 50 s
            assertThat(e.ms()).isLessThan(30_000);
        }
    }

    @Test
    void a_429_then_an_answer_succeeds_on_the_second_attempt_after_the_servers_delay() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            List<Long> answeredAt = new java.util.concurrent.CopyOnWriteArrayList<>();
            api.then(stamped(answeredAt, GeminiStandIn.resourceExhausted(3)),
                    stamped(answeredAt, GeminiStandIn.text("Hello after the quota.", 40, 4)));
            // retry_backoff_sec 0: the pause comes from the server's RetryInfo alone
            Ended e = run(f, job("\"max_retries\": 1, \"retry_backoff_sec\": 0", ""));
            assertThat(e.view().state()).as(e.log()).isEqualTo(JobState.SUCCEEDED);
            assertThat(e.step().raw().path("attempts").asInt()).isEqualTo(2);
            assertThat(e.step().finalMessage()).isEqualTo("Hello after the quota.");
            assertThat(e.log()).contains("===== attempt 2 =====");
            assertThat(api.modelCalls()).hasSize(2);
            // the second attempt's model call came no sooner than RetryInfo's 3 s after the 429
            assertThat((answeredAt.get(1) - answeredAt.get(0)) / 1_000_000).isGreaterThanOrEqualTo(3_000);
            assertThat(e.step().tokensIn()).isEqualTo(40);
        }
    }

    /** The reply, noting when the stand-in received the call it answers. */
    private static ProviderStandIn.Reply stamped(List<Long> at, ProviderStandIn.Reply reply) {
        return ex -> {
            at.add(System.nanoTime());
            reply.send(ex);
        };
    }

    @ParameterizedTest(name = "HTTP {0}")
    @ValueSource(ints = {500, 503})
    void a_server_error_ends_provider_error_early(int status) throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            ProviderStandIn.Reply r = status == 500 ? GeminiStandIn.internal() : GeminiStandIn.unavailable();
            api.then(r, r, r);
            Ended e = run(f, job("", "")).failsWith("provider_error");
            assertThat(e.ms()).isLessThan(30_000);
            assertThat(e.step().errorMessage()).contains("status " + status);
        }
    }

    @Test
    void a_stalled_stream_ends_idle_timeout() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            api.then(GeminiStandIn.stall());
            Ended e = run(f, job("\"idle_timeout_sec\": 8", "")).failsWith("idle_timeout");
            assertThat(e.step().errorMessage()).contains("8 s without output");
            assertThat(e.ms()).isLessThan(40_000);
        }
    }

    @Test
    void a_stream_that_never_ends_ends_timeout() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            api.then(GeminiStandIn.forever(Duration.ofMillis(300)));
            Ended e = run(f, job("\"timeout_sec\": 12, \"idle_timeout_sec\": 8", "")).failsWith("timeout");
            assertThat(e.step().errorMessage()).contains("timeout_sec 12");
            assertThat(e.log()).contains("part 20 of");
        }
    }

    @Test
    void usage_over_max_tokens_in_the_result_ends_budget_exceeded() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            api.then(GeminiStandIn.text("A long and costly answer.", 5000, 200));
            Ended e = run(f, job("", "\"policy\": {\"budget\": {\"max_tokens\": 1000}}")).failsWith("budget_exceeded");
            assertThat(e.step().errorMessage()).contains("max_tokens 1000");
            assertThat(e.view().tokensIn()).isEqualTo(5000);
        }
    }

    @Test
    void a_turn_over_max_turns_stops_the_step_while_it_runs() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of())) {
            // turn 1 is a tool call; turn 2 would stream forever if not stopped
            api.then(GeminiStandIn.writeFile("a.txt", "a\n"), GeminiStandIn.forever(Duration.ofMillis(300)));
            Ended e = run(f, job("\"allowed_tools\": [\"write_file\"]", "\"policy\": {\"budget\": {\"max_turns\": 1}}"))
                    .failsWith("budget_exceeded");
            assertThat(e.step().errorMessage()).contains("max_turns 1");
            assertThat(e.ms()).isLessThan(40_000);
        }
    }

    @Test
    void a_provider_nobody_answers_ends_provider_unreachable_before_the_idle_timer() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (RunnerFixture f = runner("http://127.0.0.1:" + closed, Map.of())) {
            Ended e = run(f, job("\"idle_timeout_sec\": 15", "")).failsWith("provider_unreachable");
            assertThat(e.step().errorMessage()).contains("failed attempts");
        }
    }

    @Test
    void a_continued_job_resumes_geminis_session_so_the_model_sees_the_first_exchange() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        try (GeminiStandIn api = new GeminiStandIn();
             RunnerFixture f = runner(api.baseUrl(), Map.of("PROJECT_ALIASES", "demo=" + repo))) {
            api.then(GeminiStandIn.text("The first answer is ALPHA.", 20, 5), GeminiStandIn.text("The second answer.", 30, 4));
            Ended first = run(f, job("", "\"project_id\": \"demo\""));
            assertThat(first.view().state()).as(first.log()).isEqualTo(JobState.SUCCEEDED);

            assertThat(f.store.continueJob(first.id(), "Now the follow-up.", "test").kind()).isEqualTo(ActionResult.Kind.DONE);
            JobView v = f.awaitJob(first.id(), j -> j.state().isFinal() && j.steps().size() == 2, BOUND);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            assertThat(RealCliTest.processesOf(first.id())).isEmpty();
            StepOutcome second = StepOutcome.read(f.artifacts(first.id()), "continue_1");
            assertThat(second.finalMessage()).isEqualTo("The second answer.");
            assertThat(second.sessionId()).isEqualTo(first.step().sessionId());
            // a resumed gemini reports this run's usage only, not the session's (resumedUsageIsCumulative stays false)
            assertThat(second.tokensIn()).isEqualTo(30);
            assertThat(second.tokensOut()).isEqualTo(4);
            assertThat(second.turns()).isEqualTo(1);

            // the resumed session sends the whole conversation: first prompt, first answer, then the follow-up
            List<JsonNode> calls = api.modelCallBodies();
            assertThat(calls).hasSize(2);
            String conversation = calls.get(1).path("contents").toString();
            assertThat(conversation).contains("Say hello.", "The first answer is ALPHA.", "Now the follow-up.");
            assertThat(conversation.indexOf("Say hello.")).isLessThan(conversation.indexOf("ALPHA"));
            // so the prompt need not carry the earlier report
            String prompt = Files.readString(f.artifacts(first.id()).resolve("steps/continue_1/prompt.txt"));
            assertThat(prompt).doesNotContain("The first answer is ALPHA.");
        }
    }

    /**
     * RUNNER_CONCURRENCY is 2 by default, so an operator's jobs run two at a time in one HOME: the CLI's
     * config, sessions and logs there are shared. Opencode's shared database failed such runs (see
     * OpenCodeStandInTest); this is the same batch for gemini: every run succeeds, each in a session of its own.
     * Gemini's project registry in a shared home made 3 of 13 such batches fail (a run killed by its idle
     * timeout after waiting on the registry's lock); each job has its own gemini home now.
     */
    @Test
    void runs_two_at_a_time_in_one_home_all_succeed_each_in_its_own_session() throws IOException {
        try (GeminiStandIn api = new GeminiStandIn(); RunnerFixture f = runner(api.baseUrl(), Map.of("RUNNER_CONCURRENCY", "2"))) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                ids.add(f.enqueue(job("", "")));
            }
            java.util.Set<String> sessions = new java.util.HashSet<>();
            for (String id : ids) {
                JobView v = f.awaitFinal(id, Duration.ofSeconds(180));
                assertThat(v.state()).as("job %s: %s %s; log:\n%s", id, v.errorCode(), v.errorMessage(),
                        Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"))).isEqualTo(JobState.SUCCEEDED);
                assertThat(StepOutcome.read(f.artifacts(id), "s1").finalMessage()).isEqualTo("Done.");
                sessions.add(StepOutcome.read(f.artifacts(id), "s1").sessionId());
            }
            assertThat(sessions).doesNotContainNull().hasSize(ids.size());
            // each job's project registry and chats are in its own gemini home, none in the user's
            Path users = tmp.resolve("home-gemini/.gemini");
            assertThat(users.resolve("projects.json")).doesNotExist();
            assertThat(users.resolve("tmp")).doesNotExist();
            for (String id : ids) {
                Path own = f.core.workspacesDir().resolve(".agents").resolve(id).resolve("gemini-home/.gemini");
                assertThat(own.resolve("projects.json")).isRegularFile();
                assertThat(own.resolve("settings.json")).isSymbolicLink();
            }
        }
    }
}
