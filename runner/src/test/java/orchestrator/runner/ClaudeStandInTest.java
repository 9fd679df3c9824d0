package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.Json;
import orchestrator.core.agent.AgentDefinition;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.runner.agent.AgentAdapter;
import orchestrator.runner.agent.AgentLaunch;
import orchestrator.runner.agent.AgentReport;
import orchestrator.runner.agent.Invocation;
import orchestrator.runner.agent.OutputParser;
import orchestrator.runner.agent.StepContext;
import orchestrator.runner.agent.StepOptions;
import orchestrator.runner.standin.AnthropicStandIn;
import orchestrator.runner.standin.ProviderStandIn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real Claude Code CLI (2.1.330) run by the runner against {@link AnthropicStandIn} on 127.0.0.1:
 * each way a run can end reaches its code in bounded time, leaves no process, and never logs the key.
 * With {@code ANTHROPIC_BASE_URL} on a local server the CLI prints its first event within ~1.5 s.
 */
@Tag("slow")
class ClaudeStandInTest {
    private static final String KEY = "sk-ant-api03-notarealkeynotarealkey-standin00";
    private static final Pattern CWD = Pattern.compile("Primary working directory: ([^\\s\\\\\"]+)");

    @TempDir
    Path tmp;
    private Path binary;
    private AnthropicStandIn api;

    @BeforeEach
    void setUp() {
        binary = RealCliTest.binDir().resolve("claude");
        assumeTrue(Files.isExecutable(binary), binary + " is not installed: run scripts/install-agent-clis.sh");
        api = new AnthropicStandIn();
    }

    @AfterEach
    void tearDown() {
        if (api != null) {
            api.close();
        }
    }

    private Map<String, String> cliEnv() throws IOException {
        Map<String, String> env = new HashMap<>();
        env.put("HOME", Files.createDirectories(tmp.resolve("home")).toString());
        env.put("PATH", binary.getParent() + ":/usr/bin:/bin");
        env.put("ANTHROPIC_BASE_URL", api.baseUrl());
        env.put("ANTHROPIC_API_KEY", KEY);
        return env;
    }

    private RunnerFixture fixture(List<String> args, Map<String, String> extra) throws IOException {
        Map<String, Object> agent = new HashMap<>(Map.of("type", "claude", "binary", binary.toString(), "env", cliEnv()));
        agent.put("args", args);
        Map<String, String> env = new HashMap<>(Map.of("ENABLE_REAL_CLI", "1", "SENSITIVE_ENV_VARS", "ANTHROPIC_API_KEY"));
        env.putAll(extra);
        return new RunnerFixture(tmp, Json.write(Map.of("claude", agent)), env).start();
    }

    private RunnerFixture fixture() throws IOException {
        return fixture(List.of(), Map.of());
    }

    /** One step named s1 with {@code stepFields} and the job's {@code topFields} (each a JSON fragment or ""). */
    private static String job(String stepFields, String topFields) {
        return "{\"goal\": \"g\"" + (topFields.isEmpty() ? "" : ", " + topFields) + ", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"claude\","
                + " \"prompt\": \"Say hello.\", \"timeout_sec\": 60, \"idle_timeout_sec\": 20, \"retry_backoff_sec\": 0"
                + (stepFields.isEmpty() ? "" : ", " + stepFields) + "}]}";
    }

    /** Runs a job to its end within {@code bound}; asserts nothing is left running and the key is nowhere in the log. */
    private Finished run(RunnerFixture f, String payload, Duration bound) throws IOException {
        long t0 = System.nanoTime();
        String id = f.enqueue(payload);
        JobView v = f.awaitFinal(id, bound);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        RunnerFixture.await("no process of job " + id + " left", () -> RealCliTest.processesOf(id).isEmpty(), Duration.ofSeconds(5));
        String log = Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"));
        assertThat(log).doesNotContain(KEY).doesNotContain("notarealkey");
        assertThat(Files.readString(f.artifacts(id).resolve("steps/s1/result.json"))).doesNotContain(KEY);
        return new Finished(id, v, StepOutcome.read(f.artifacts(id), "s1"), log, ms);
    }

    private record Finished(String id, JobView view, StepOutcome step, String log, long ms) {
        String why() {
            return "after " + ms + " ms: " + view.errorCode() + " " + view.errorMessage() + "\nlog:\n" + log;
        }
    }

    /** The Write tool, into the workspace the CLI names as its working directory in the request. */
    private static ProviderStandIn.Reply writeInWorkspace(String name, String content, long in, long out) {
        return ex -> {
            Matcher m = CWD.matcher(ex.request().body());
            String dir = m.find() ? m.group(1) : ".";
            AnthropicStandIn.write(dir + "/" + name, content, in, out).send(ex);
        };
    }

    private static ProviderStandIn.Reply[] times(int n, ProviderStandIn.Reply r) {
        ProviderStandIn.Reply[] out = new ProviderStandIn.Reply[n];
        java.util.Arrays.fill(out, r);
        return out;
    }

    @Test
    void a_plain_answer_succeeds_with_the_message_session_turns_tokens_and_cost_the_cli_reports() throws IOException {
        api.then(AnthropicStandIn.text("Hello from the stand-in.", 1234, 56));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("", ""), Duration.ofSeconds(60));
            assertThat(r.view().state()).as(r.why()).isEqualTo(JobState.SUCCEEDED);
            assertThat(r.step().finalMessage()).isEqualTo("Hello from the stand-in.");
            assertThat(r.step().sessionId()).isEqualTo(api.modelCalls().get(0).header("x-claude-code-session-id"));
            assertThat(r.step().turns()).isEqualTo(1);
            assertThat(r.step().tokensIn()).isEqualTo(1234);
            assertThat(r.step().tokensOut()).isEqualTo(56);
            // the CLI prices the usage with its own table (2.1.330, claude-opus-5-5: $4/M in, $20/M out)
            double reported = r.log().lines().filter(l -> l.startsWith("{") && l.contains("\"type\":\"result\""))
                    .mapToDouble(l -> Json.parse(l).path("total_cost_usd").asDouble()).findFirst().orElse(-1);
            assertThat(reported).isPositive();
            assertThat(r.step().costUsd()).isEqualTo(reported);
            assertThat(r.view().tokensIn()).isEqualTo(1234);
            assertThat(r.view().tokensOut()).isEqualTo(56);
            assertThat(r.view().costUsd()).isPositive();
            assertThat(api.modelCalls()).hasSize(1);
            assertThat(api.modelCalls().get(0).header("x-api-key")).isEqualTo(KEY);
        }
    }

    @Test
    void files_written_by_the_write_and_bash_tools_show_in_the_jobs_patch() throws Exception {
        Path project = RunnerFixture.gitProject(tmp.resolve("proj"), Map.of("README.md", "project\n"));
        api.then(writeInWorkspace("hello.txt", "hi from claude\n", 100, 20),
                AnthropicStandIn.bash("echo from-bash > made-by-bash.txt", 120, 15),
                AnthropicStandIn.text("Wrote hello.txt and made-by-bash.txt.", 150, 10));
        try (RunnerFixture f = fixture(List.of(), Map.of("PROJECT_ALIASES", "proj=" + project))) {
            Finished r = run(f, job("", "\"project_id\": \"proj\""), Duration.ofSeconds(60));
            assertThat(r.view().state()).as(r.why()).isEqualTo(JobState.SUCCEEDED);
            String patch = Files.readString(f.artifacts(r.id()).resolve("patch.diff"));
            assertThat(patch).contains("hello.txt").contains("+hi from claude").contains("made-by-bash.txt").contains("+from-bash");
            assertThat(r.step().turns()).isEqualTo(3);
            assertThat(r.step().tokensIn()).isEqualTo(370);
            assertThat(r.step().tokensOut()).isEqualTo(45);
        }
    }

    @Test
    void a_401_ends_auth_failed_at_the_first_retry() throws IOException {
        api.then(times(12, AnthropicStandIn.unauthorized()));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"max_retries\": 2", ""), Duration.ofSeconds(30));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("auth_failed");
            assertThat(r.step().raw().path("attempts").asInt()).as("auth_failed is not retried").isEqualTo(1);
            assertThat(api.modelCalls()).as("the CLI's own 10 retries are cut short").hasSizeLessThanOrEqualTo(2);
            assertThat(r.ms()).isLessThan(20_000);
        }
    }

    @Test
    void a_429_ends_the_attempt_and_the_next_attempt_after_the_retry_after_succeeds() throws IOException {
        api.then(AnthropicStandIn.rateLimited(1), AnthropicStandIn.text("Second time lucky.", 10, 5));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"max_retries\": 1", ""), Duration.ofSeconds(60));
            assertThat(r.view().state()).as(r.why()).isEqualTo(JobState.SUCCEEDED);
            assertThat(r.step().raw().path("attempts").asInt()).isEqualTo(2);
            assertThat(r.step().finalMessage()).isEqualTo("Second time lucky.");
            assertThat(r.log()).contains("\"error_status\":429");
        }
    }

    @Test
    void a_429_every_time_is_rate_limited_after_max_retries() throws IOException {
        api.then(times(20, AnthropicStandIn.rateLimited(1)));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"max_retries\": 1", ""), Duration.ofSeconds(60));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("rate_limited");
            assertThat(r.step().raw().path("attempts").asInt()).isEqualTo(2);
            assertThat(api.modelCalls()).hasSizeLessThanOrEqualTo(4);
        }
    }

    @ParameterizedTest(name = "HTTP {0} ends provider_error")
    @ValueSource(ints = {500, 529})
    void a_server_error_ends_provider_error_in_bounded_time(int status) throws IOException {
        api.then(times(20, status == 500 ? AnthropicStandIn.serverError() : AnthropicStandIn.overloaded()));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"max_retries\": 1", ""), Duration.ofSeconds(60));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("provider_error");
            assertThat(r.step().raw().path("attempts").asInt()).as("provider_error is retried").isEqualTo(2);
            assertThat(r.ms()).isLessThan(30_000);
        }
    }

    @Test
    void a_stream_that_stalls_halfway_ends_idle_timeout() throws IOException {
        api.then(AnthropicStandIn.stallHalfway());
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"idle_timeout_sec\": 6, \"max_retries\": 0", ""), Duration.ofSeconds(40));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("idle_timeout");
        }
    }

    @Test
    void a_stream_that_never_ends_ends_timeout() throws IOException {
        api.then(AnthropicStandIn.pingForever(Duration.ofMillis(500)));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"timeout_sec\": 8, \"idle_timeout_sec\": 0, \"max_retries\": 0", ""), Duration.ofSeconds(40));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("timeout");
        }
    }

    @Test
    void usage_over_max_tokens_stops_the_step_while_it_runs() throws IOException {
        api.then(AnthropicStandIn.bash("echo one >> n.txt", 50_000, 10), AnthropicStandIn.bash("echo two >> n.txt", 100, 10),
                AnthropicStandIn.bash("echo three >> n.txt", 100, 10), AnthropicStandIn.text("All done.", 100, 10));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"max_retries\": 0", "\"policy\": {\"budget\": {\"max_tokens\": 5000}}"), Duration.ofSeconds(60));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("budget_exceeded");
            assertThat(api.modelCalls()).as("stopped before the script ran out").hasSizeLessThan(4);
        }
    }

    @Test
    void cost_over_max_cost_usd_stops_the_step_while_it_runs() throws IOException {
        // 10,000 input tokens cost the CLI's table $0.05: over the job's $0.01 after the first turn
        api.then(AnthropicStandIn.bash("echo one >> n.txt", 10_000, 10), AnthropicStandIn.bash("echo two >> n.txt", 100, 10),
                AnthropicStandIn.bash("echo three >> n.txt", 100, 10), AnthropicStandIn.text("All done.", 100, 10));
        try (RunnerFixture f = fixture()) {
            Finished r = run(f, job("\"max_retries\": 0", "\"policy\": {\"budget\": {\"max_cost_usd\": 0.01}}"), Duration.ofSeconds(60));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("budget_exceeded");
            assertThat(api.modelCalls()).as("stopped before the script ran out").hasSizeLessThan(4);
            assertThat(r.view().costUsd()).isGreaterThan(0.01);
        }
    }

    @Test
    void a_tool_call_the_cli_refuses_fails_the_step_tool_denied() throws IOException {
        // an operator's own permission mode: in -p mode "default" refuses every edit
        api.then(AnthropicStandIn.write("denied.txt", "no\n", 100, 20), AnthropicStandIn.text("I could not write it.", 100, 10));
        try (RunnerFixture f = fixture(List.of("--permission-mode", "default"), Map.of())) {
            Finished r = run(f, job("\"max_retries\": 0", ""), Duration.ofSeconds(60));
            assertThat(r.view().errorCode()).as(r.why()).isEqualTo("tool_denied");
            assertThat(r.view().errorMessage()).contains("Write: ").contains("denied.txt");
        }
    }

    @Test
    void a_resumed_session_sends_the_earlier_prompt_and_answer_with_the_new_prompt() throws Exception {
        api.then(AnthropicStandIn.text("The first answer.", 10, 5), AnthropicStandIn.text("The second answer.", 20, 5));
        Path work = Files.createDirectories(tmp.resolve("work"));
        AgentDefinition def = new AgentDefinition("claude", "claude", binary.toString(), List.of(), List.of(), cliEnv(), 0);
        AgentReport first = runDirect(def, work, "The first prompt.", StepOptions.NONE);
        assertThat(first.finalMessage()).isEqualTo("The first answer.");
        assertThat(first.sessionId()).isNotNull();
        AgentReport second = runDirect(def, work, "The second prompt.", new StepOptions(null, null, first.sessionId()));
        assertThat(second.finalMessage()).isEqualTo("The second answer.");
        assertThat(second.sessionId()).isEqualTo(first.sessionId());
        JsonNode messages = api.modelCallBodies().get(1).path("messages");
        String conversation = messages.toString();
        assertThat(conversation).contains("The first prompt.").contains("The first answer.").contains("The second prompt.");
        assertThat(conversation.indexOf("The first answer.")).isLessThan(conversation.indexOf("The second prompt."));
    }

    @Test
    void a_new_users_default_job_plans_implements_and_reviews_with_the_plan_and_the_patch_in_the_review() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        api.then(AnthropicStandIn.text("PLAN: create hello.txt containing hi.", 100, 10),
                writeInWorkspace("hello.txt", "hi\n", 200, 20),
                AnthropicStandIn.text("Created hello.txt.", 300, 30),
                AnthropicStandIn.text("REVIEW: the patch adds hello.txt with +hi; it does what the goal asks.", 400, 40));
        try (RunnerFixture f = fixture(List.of(), Map.of("PROJECT_ALIASES", "proj=" + repo, "IMPLEMENTER_AGENT", "claude"))) {
            String id = f.enqueue("{\"goal\": \"Say hi in hello.txt\", \"project_id\": \"proj\"}");
            JobView v = f.awaitFinal(id, Duration.ofSeconds(120));
            assertThat(v.state()).as("%s %s", v.errorCode(), v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            Path a = f.artifacts(id);
            assertThat(Files.readString(a.resolve("steps/02_implement/patch.diff"))).contains("+hi");
            String review = Files.readString(a.resolve("steps/03_review/prompt.txt"));
            assertThat(review).contains("PLAN: create hello.txt containing hi.", "### steps/02_implement/patch.diff", "+hi",
                    "Created hello.txt.");
            // what reached the model for the review: the plan and the patch
            String lastCall = api.modelCalls().get(api.modelCalls().size() - 1).body();
            assertThat(lastCall).contains("PLAN: create hello.txt containing hi.").contains("+++ b/hello.txt");
            assertThat(StepOutcome.read(a, "03_review").finalMessage()).startsWith("REVIEW:");
            assertThat(v.tokensIn()).isEqualTo(100 + 200 + 300 + 400);
            RunnerFixture.await("no process of job " + id + " left", () -> RealCliTest.processesOf(id).isEmpty(), Duration.ofSeconds(5));
        }
    }

    @Test
    void a_continued_job_resumes_the_claude_session_in_the_same_workspace() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        api.then(writeInWorkspace("first.txt", "one\n", 10, 5), AnthropicStandIn.text("The first answer.", 10, 5),
                writeInWorkspace("second.txt", "two\n", 20, 5), AnthropicStandIn.text("The second answer.", 20, 5));
        try (RunnerFixture f = fixture(List.of(), Map.of("PROJECT_ALIASES", "proj=" + repo))) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"claude\","
                    + " \"prompt\": \"The first prompt.\", \"timeout_sec\": 60}]}");
            assertThat(f.awaitFinal(id, Duration.ofSeconds(60)).state()).isEqualTo(JobState.SUCCEEDED);
            String session = StepOutcome.read(f.artifacts(id), "s1").sessionId();
            int before = api.modelCalls().size();

            assertThat(f.store.continueJob(id, "The second prompt.", "test").kind()).isEqualTo(orchestrator.core.store.ActionResult.Kind.DONE);
            JobView v = f.awaitJob(id, j -> j.state().isFinal() && j.steps().size() == 2, Duration.ofSeconds(60));
            assertThat(v.state()).as("%s %s", v.errorCode(), v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            StepOutcome next = StepOutcome.read(f.artifacts(id), "continue_1");
            assertThat(next.sessionId()).isEqualTo(session);
            assertThat(next.finalMessage()).isEqualTo("The second answer.");
            // the resumed request carried the earlier conversation, and the prompt is the operator's words alone
            String resumed = api.modelCallBodies().get(before).path("messages").toString();
            assertThat(resumed).contains("The first prompt.", "The first answer.", "The second prompt.");
            assertThat(Files.readString(f.artifacts(id).resolve("steps/continue_1/prompt.txt"))).isEqualTo("The second prompt.\n");
            assertThat(Files.readString(f.artifacts(id).resolve("steps/continue_1/logs.txt"))).doesNotContain(KEY);
            // the same workspace: the follow-up's patch holds only its own change, the job's both
            assertThat(Files.readString(f.artifacts(id).resolve("steps/continue_1/patch.diff"))).contains("+two").doesNotContain("+one");
            assertThat(Files.readString(f.artifacts(id).resolve("patch.diff"))).contains("+one", "+two");
            assertThat(v.tokensIn()).isEqualTo(60);
        }
    }

    /** The adapter's command line run as a plain process in {@code work}, its output through the adapter's parser. */
    private AgentReport runDirect(AgentDefinition def, Path work, String prompt, StepOptions opts) throws Exception {
        Path promptFile = Files.writeString(Files.createTempFile(tmp, "prompt", ".txt"), prompt);
        Invocation inv = AgentLaunch.invocation(def, new StepContext(promptFile, work, "j", "s", tmp), opts);
        ProcessBuilder pb = new ProcessBuilder(inv.argv()).directory(work.toFile()).redirectErrorStream(true)
                .redirectInput(inv.stdin().toFile());
        pb.environment().clear();
        pb.environment().putAll(inv.env());
        Process p = pb.start();
        OutputParser parser = AgentAdapter.forType("claude").parser();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                lines.add(l);
                parser.accept(l);
            }
        }
        try {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("claude exited").isTrue();
            assertThat(p.exitValue()).as(String.join("\n", lines)).isZero();
        } finally {
            p.destroyForcibly();
        }
        return parser.report();
    }

    /**
     * RUNNER_CONCURRENCY is 2 by default, so an operator's jobs run two at a time in one HOME: the CLI's
     * config, sessions and logs there are shared. Opencode's shared database failed such runs (see
     * OpenCodeStandInTest); this is the same batch for claude: every run succeeds, each in a session of its own.
     */
    @Test
    void runs_two_at_a_time_in_one_home_all_succeed_each_in_its_own_session() throws Exception {
        try (RunnerFixture f = fixture(List.of(), Map.of("RUNNER_CONCURRENCY", "2"))) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                ids.add(f.enqueue(job("\"max_retries\": 0", "")));
            }
            java.util.Set<String> sessions = new java.util.HashSet<>();
            for (String id : ids) {
                JobView v = f.awaitFinal(id, Duration.ofSeconds(120));
                assertThat(v.state()).as("job %s: %s %s; log:\n%s", id, v.errorCode(), v.errorMessage(),
                        Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"))).isEqualTo(JobState.SUCCEEDED);
                assertThat(StepOutcome.read(f.artifacts(id), "s1").finalMessage()).isEqualTo("Done.");
                sessions.add(StepOutcome.read(f.artifacts(id), "s1").sessionId());
            }
            assertThat(sessions).doesNotContainNull().hasSize(ids.size());
        }
    }
    /**
     * Claude keeps each session's transcript (the prompts, the answers, what the agent read) in its home,
     * {@code ~/.claude/projects/<working directory, each character not a letter or digit made ->}, and
     * deletes it only after 30 days: the job's goes with its workspace, another job's and the user's own stay.
     */
    @Test
    void a_jobs_transcript_in_the_claude_home_goes_with_its_workspace_and_no_other_does() throws Exception {
        try (RunnerFixture f = fixture()) {
            Path projects = tmp.resolve("home").resolve(".claude").resolve("projects");
            Path users = Files.createDirectories(projects.resolve("-home-someone-their-repo"));
            Files.writeString(users.resolve("their-session.jsonl"), "{}");
            String first = f.enqueue(job("\"max_retries\": 0", ""));
            assertThat(f.awaitFinal(first, Duration.ofSeconds(60)).state()).isEqualTo(JobState.SUCCEEDED);
            String second = f.enqueue(job("\"max_retries\": 0", ""));
            JobView last = f.awaitFinal(second, Duration.ofSeconds(60));
            assertThat(last.state()).isEqualTo(JobState.SUCCEEDED);
            Map<String, Path> folder = new HashMap<>();
            for (String id : List.of(first, second)) {
                String name = f.core.workspacesDir().resolve(id).toRealPath().toString().replaceAll("[^a-zA-Z0-9]", "-");
                Path transcript = projects.resolve(name).resolve(StepOutcome.read(f.artifacts(id), "s1").sessionId() + ".jsonl");
                assertThat(transcript).as("claude's transcript of job %s", id).isRegularFile();
                assertThat(Files.readString(transcript)).contains("Say hello.");
                folder.put(id, transcript.getParent());
            }
            assertThat(f.sweepWorkspacesEndedBefore(last)).isEqualTo(1);
            assertThat(f.core.workspacesDir().resolve(first)).doesNotExist();
            assertThat(folder.get(first)).doesNotExist();
            assertThat(folder.get(second)).isDirectory();
            assertThat(users.resolve("their-session.jsonl")).exists();
        }
    }
}
