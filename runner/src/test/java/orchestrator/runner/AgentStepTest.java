package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import orchestrator.core.Json;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Steps of agents with real processes: rlimits, budgets, a CLI that lingers after its result, the
 * daily budget, the sandbox wrapper and redaction. The "CLI" is a fake: a shell script printing
 * Claude Code's stream-json events, configured as {@code {"type": "claude", "binary": …}}.
 */
class AgentStepTest {
    private static final Duration FINISH = Duration.ofSeconds(30);
    private static final String KEY = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2";
    private static final String ENV_SECRET = "hunter2-correct-horse-battery";

    @TempDir
    Path tmp;

    private Path script(String name, String body) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    private static String claudeAgent(String name, Path binary, Map<String, String> env) {
        return "\"" + name + "\": " + Json.write(Map.of("type", "claude", "binary", binary.toString(), "env", env));
    }

    private static String assistant(String id, long in, long out, String text) {
        return "{\"type\":\"assistant\",\"message\":{\"id\":\"" + id + "\",\"content\":[{\"type\":\"text\",\"text\":\"" + text
                + "\"}],\"usage\":{\"input_tokens\":" + in + ",\"output_tokens\":" + out + "}},\"session_id\":\"s-1\"}";
    }

    private static String result(boolean error, double cost, String text) {
        return "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":" + error + ",\"num_turns\":1,\"result\":\"" + text
                + "\",\"session_id\":\"s-1\",\"total_cost_usd\":" + cost + ",\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}";
    }

    /** printf of one JSON line in a sh script. */
    private static String print(String json) {
        return "printf '%s\\n' '" + json + "'\n";
    }

    private static String job(String agent, String stepExtra, String policy) {
        return "{\"goal\": \"g\", " + (policy.isEmpty() ? "" : "\"policy\": " + policy + ", ")
                + "\"steps\": [{\"step_id\": \"s1\", \"agent\": \"" + agent + "\", \"prompt\": \"do it\""
                + (stepExtra.isEmpty() ? "" : ", " + stepExtra) + "}]}";
    }

    static List<Long> processesOf(String jobId) {
        return RealCliTest.processesOf(jobId);
    }

    @Test
    void step_over_its_cpu_limit_is_stopped_and_reported_as_hitting_it() throws IOException {
        String agents = "{\"spin\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"while :; do :; done\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String id = f.enqueue(job("spin", "\"limits\": {\"cpu_sec\": 1}", ""));
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("agent_exit_nonzero");
            assertThat(v.steps().get(0).errorMessage()).contains("CPU limit (cpu_sec 1)");
            assertThat(v.steps().get(0).exitCode()).isIn(137, 152);
        }
    }

    @Test
    void step_over_its_memory_limit_is_stopped_and_reported_as_over_it() throws IOException {
        String agents = "{\"hog\": {\"type\": \"command\", \"argv\": [\"/usr/bin/python3\", \"-c\", \"b = bytearray(512 * 1024 * 1024)\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String id = f.enqueue(job("hog", "\"limits\": {\"memory_mb\": 200}", ""));
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.steps().get(0).errorMessage()).contains("over its memory limit (memory_mb 200)").contains("MemoryError");
        }
    }

    @Test
    void cli_over_the_jobs_token_budget_is_killed_and_ends_budget_exceeded() throws IOException {
        Path fake = script("fake-claude", "i=0\nwhile :; do i=$((i+1))\n"
                + "printf '{\"type\":\"assistant\",\"message\":{\"id\":\"m%s\",\"content\":[],\"usage\":{\"input_tokens\":300,\"output_tokens\":50}}}\\n' $i\n"
                + "sleep 0.1\ndone\n");
        try (RunnerFixture f = new RunnerFixture(tmp, "{" + claudeAgent("fake", fake, Map.of()) + "}", Map.of("ENABLE_REAL_CLI", "1")).start()) {
            String id = f.enqueue(job("fake", "", "{\"budget\": {\"max_tokens\": 1000}}"));
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("budget_exceeded");
            assertThat(v.steps().get(0).errorMessage()).contains("max_tokens 1000");
            assertThat(v.steps().get(0).tokensIn() + v.steps().get(0).tokensOut()).isBetween(1001L, 1400L);
            assertThat(processesOf(id)).isEmpty();
        }
    }

    @Test
    void cli_that_prints_its_result_but_does_not_exit_is_killed_after_the_grace_and_succeeds() throws IOException {
        Path fake = script("lingering-claude", "cat > /dev/null\n" + print(assistant("m1", 100, 10, "thinking"))
                + print(result(false, 0.25, "All done.")) + "exec sleep 300\n");
        try (RunnerFixture f = new RunnerFixture(tmp, "{" + claudeAgent("fake", fake, Map.of()) + "}", Map.of("ENABLE_REAL_CLI", "1")).start()) {
            long t0 = System.nanoTime();
            String id = f.enqueue(job("fake", "", "{\"budget\": {\"max_cost_usd\": 1.0}}"));
            JobView v = f.awaitFinal(id, FINISH);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(ms).isLessThan(process_grace_ms() + 8_000);
            assertThat(v.result()).containsEntry("summary", "All done.");
            assertThat(v.costUsd()).isEqualTo(0.25);
            assertThat(StepOutcome.read(f.artifacts(id), "s1").costUsd()).isEqualTo(0.25);
            assertThat(processesOf(id)).isEmpty();
            assertThat(f.store.dailyUsage(null, LocalDate.now(ZoneOffset.UTC)).costUsd()).isEqualTo(0.25);
        }
    }

    private static long process_grace_ms() {
        return orchestrator.runner.process.StepProcess.RESULT_EXIT_GRACE_MS;
    }

    @Test
    void result_over_the_cost_budget_fails_budget_exceeded_even_though_the_cli_succeeded() throws IOException {
        Path fake = script("pricey-claude", print(result(false, 2.5, "done")) + "exec sleep 300\n");
        try (RunnerFixture f = new RunnerFixture(tmp, "{" + claudeAgent("fake", fake, Map.of()) + "}", Map.of("ENABLE_REAL_CLI", "1")).start()) {
            String id = f.enqueue(job("fake", "", "{\"budget\": {\"max_cost_usd\": 1.0}}"));
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.errorCode()).isEqualTo("budget_exceeded");
            assertThat(v.steps().get(0).errorMessage()).contains("max_cost_usd 1.0");
            assertThat(processesOf(id)).isEmpty();
        }
    }

    @Test
    void second_real_cli_step_of_the_day_over_max_daily_api_calls_fails_budget_exceeded() throws IOException {
        Path fake = script("quick-claude", "cat > /dev/null\n" + print(result(false, 0.01, "ok")));
        Map<String, String> env = Map.of("ENABLE_REAL_CLI", "1", "MAX_DAILY_API_CALLS", "1");
        try (RunnerFixture f = new RunnerFixture(tmp, "{" + claudeAgent("fake", fake, Map.of()) + "}", env).start()) {
            String first = f.enqueue(job("fake", "", ""));
            assertThat(f.awaitFinal(first, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            String second = f.enqueue(job("fake", "", ""));
            JobView v = f.awaitFinal(second, FINISH);
            assertThat(v.errorCode()).isEqualTo("budget_exceeded");
            assertThat(v.errorMessage()).contains("MAX_DAILY_API_CALLS 1");
            assertThat(f.store.dailyUsage(null, LocalDate.now(ZoneOffset.UTC)).apiCalls()).isEqualTo(1);
        }
    }

    @Test
    void structured_cli_that_exits_zero_with_garbage_is_parse_error() throws IOException {
        Path fake = script("garbled-claude", "echo 'Hello, I am not JSON'\n");
        try (RunnerFixture f = new RunnerFixture(tmp, "{" + claudeAgent("fake", fake, Map.of()) + "}", Map.of("ENABLE_REAL_CLI", "1")).start()) {
            String id = f.enqueue(job("fake", "", ""));
            assertThat(f.awaitFinal(id, FINISH).errorCode()).isEqualTo("parse_error");
        }
    }

    @Test
    void secrets_printed_by_an_agent_appear_nowhere_in_artifacts_logs_or_events() throws IOException {
        // the key and the env value reach the log as text, the final message, the result's error and stderr
        Path fake = script("leaky-claude", "echo \"my key is " + KEY + " and $MY_TOKEN\" >&2\n"
                + print(assistant("m1", 1, 1, "key " + KEY))
                + "printf '{\"type\":\"result\",\"is_error\":true,\"result\":\"failed with %s and %s\",\"total_cost_usd\":0}\\n' \"" + KEY + "\" \"$MY_TOKEN\"\n"
                + "echo \"$MY_TOKEN\"; exit 1\n");
        Map<String, String> agentEnv = Map.of("MY_TOKEN", ENV_SECRET);
        try (RunnerFixture f = new RunnerFixture(tmp, "{" + claudeAgent("leaky", fake, agentEnv) + "}",
                Map.of("ENABLE_REAL_CLI", "1", "SENSITIVE_ENV_VARS", "MY_TOKEN")).start()) {
            String id = f.enqueue(job("leaky", "", ""));
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorMessage()).contains("[REDACTED]");
            String everything;
            try (Stream<Path> files = Files.walk(f.artifacts(id))) {
                StringBuilder sb = new StringBuilder();
                for (Path p : files.filter(Files::isRegularFile).toList()) {
                    sb.append(Files.readString(p)).append('\n');
                }
                everything = sb.toString();
            }
            assertThat(everything).contains("[REDACTED]").contains("my key is");
            String stored = v.toString() + f.store.events(id) + v.steps();
            for (String secret : List.of(KEY, ENV_SECRET)) {
                assertThat(everything).doesNotContain(secret);
                assertThat(stored).doesNotContain(secret);
            }
        }
    }

    @Test
    void sandbox_wrapper_runs_in_front_of_the_agent_with_placeholders() throws IOException {
        String agents = "{\"show\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo wrapped=$WRAPPED_JOB\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("SANDBOX_WRAPPER", "env 'WRAPPED_JOB={job_id}'")).start()) {
            String id = f.enqueue(job("show", "", ""));
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"))).contains("wrapped=" + id);
        }
    }

    @Test
    void sandbox_wrapper_that_is_not_an_executable_fails_the_start_naming_the_variable() {
        for (String bad : List.of("no-such-sandbox-binary --x", "relative/bwrap", "'unterminated")) {
            assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("SANDBOX_WRAPPER", bad, "PATH", System.getenv("PATH")))))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("SANDBOX_WRAPPER");
        }
        assertThat(RunnerConfig.from(new Env(Map.of("SANDBOX_WRAPPER", "env \"A=b c\" B=\\'d", "PATH", System.getenv("PATH")))).sandboxWrapper())
                .containsExactly("env", "A=b c", "B='d");
    }
}
