package orchestrator.runner.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import orchestrator.core.agent.AgentDefinition;
import orchestrator.core.job.Limits;
import orchestrator.runner.process.StepProcess;
import org.junit.jupiter.api.Test;

/**
 * Claude Code's parser over outputs the real CLI (2.1.330) printed against a local Anthropic stand-in
 * (fixtures/claude, see fixtures/README.md), and the command line its adapter builds.
 */
class ClaudeOutputTest {
    private static final Limits LIMITS = new Limits(60L, 1024L, 64L, 64L, 256L);
    private static final StepContext CTX = new StepContext(Path.of("/a/steps/s1/prompt.txt"), Path.of("/w"), "j1", "s1", Path.of("/a"));

    /** The first {@code lines} lines of a fixture (0: all), as the monitor would feed them. */
    private static OutputParser feed(String fixture, int lines) throws IOException {
        OutputParser p = ClaudeCodeAdapter.INSTANCE.parser();
        try (InputStream in = ClaudeOutputTest.class.getResourceAsStream("/fixtures/claude/" + fixture)) {
            assertThat(in).as(fixture).isNotNull();
            new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().limit(lines == 0 ? Long.MAX_VALUE : lines).forEach(p::accept);
        }
        return p;
    }

    private static StepVerdict verdict(AgentReport r, String abortCode, StepProcess.Ending ending, int exit) {
        return StepVerdict.of(ClaudeCodeAdapter.INSTANCE, new StepProcess.Result(ending, exit, "aborted", 10), r, abortCode, LIMITS, 60, 10);
    }

    @Test
    void a_401_ends_auth_failed_at_the_first_retry() throws IOException {
        AgentReport r = feed("api-retry-401.jsonl", 2).report();
        assertThat(r.abortCode()).isEqualTo("auth_failed");
        assertThat(r.abortMessage()).contains("HTTP 401");
        StepVerdict v = verdict(r, r.abortCode(), StepProcess.Ending.ABORTED, 137);
        assertThat(v.errorCode()).isEqualTo("auth_failed");
        assertThat(v.retryable()).isFalse();
    }

    @Test
    void a_429_before_any_turn_ends_rate_limited_at_the_first_retry_with_the_clis_delay() throws IOException {
        AgentReport r = feed("api-retry-429.jsonl", 2).report();
        assertThat(r.abortCode()).isEqualTo("rate_limited");
        // the stand-in sent retry-after: 3; the CLI waits that plus jitter and says so
        assertThat(r.retryAfterMs()).isEqualTo(3425L);
        StepVerdict v = verdict(r, r.abortCode(), StepProcess.Ending.ABORTED, 137);
        assertThat(v.errorCode()).isEqualTo("rate_limited");
        assertThat(v.retryable()).isTrue();
    }

    @Test
    void a_429_after_a_turn_is_left_to_the_clis_own_retries_for_a_while() {
        OutputParser p = ClaudeCodeAdapter.INSTANCE.parser();
        p.accept("{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"claude-opus-5-5\",\"content\":[],\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}");
        p.accept(retry(1, 429, "rate_limit"));
        assertThat(p.report().abortCode()).as("the session's progress is kept by the CLI's own retry").isNull();
        assertThat(p.report().errorCode()).isEqualTo("rate_limited");
        p.accept(retry(ClaudeCodeAdapter.Parser.MID_RUN_RETRIES, 429, "rate_limit"));
        assertThat(p.report().abortCode()).isEqualTo("rate_limited");
    }

    @Test
    void a_500_is_provider_error_not_unreachable_and_ends_at_the_first_retry() throws IOException {
        AgentReport r = feed("api-retry-500.jsonl", 2).report();
        assertThat(r.errorCode()).isEqualTo("provider_error");
        assertThat(r.abortCode()).isEqualTo("provider_error");
        assertThat(verdict(r, r.abortCode(), StepProcess.Ending.ABORTED, 137).retryable()).isTrue();
    }

    @Test
    void a_final_result_the_cli_gave_up_on_after_ten_500s_is_provider_error() throws IOException {
        // what a step whose idle limit outlasts the CLI's own retries (~3 min) sees at the end
        AgentReport r = feed("server-error-500.jsonl", 0).report();
        StepVerdict v = verdict(r, null, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("provider_error");
        assertThat(v.message()).contains("API Error: 500");
        assertThat(v.retryable()).isTrue();
    }

    @Test
    void repeated_529_overloaded_is_provider_error() throws IOException {
        AgentReport r = feed("overloaded-529.jsonl", 0).report();
        StepVerdict v = verdict(r, null, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("provider_error");
        assertThat(v.message()).contains("529 Overloaded");
    }

    @Test
    void a_success_with_permission_denials_is_tool_denied_naming_the_tool_and_its_file() throws IOException {
        AgentReport r = feed("permission-denied.jsonl", 0).report();
        assertThat(r.resultIsError()).isFalse();
        assertThat(r.deniedTools()).containsExactly("Write: /work/job/hello.txt");
        StepVerdict v = verdict(r, null, StepProcess.Ending.EXITED, 0);
        assertThat(v.errorCode()).isEqualTo("tool_denied");
        assertThat(v.message()).contains("Write: /work/job/hello.txt");
    }

    @Test
    void max_turns_counts_the_model_calls_made_not_the_one_refused() throws IOException {
        // --max-turns 1: one model call (a Bash tool call, which ran), then error_max_turns with num_turns 2
        AgentReport r = feed("max-turns-tool.jsonl", 0).report();
        assertThat(r.turns()).isEqualTo(1);
        assertThat(verdict(r, null, StepProcess.Ending.EXITED, 1).errorCode()).isEqualTo("budget_exceeded");
    }

    @Test
    void max_budget_usd_stop_is_budget_exceeded_with_the_cost_spent() throws IOException {
        AgentReport r = feed("max-budget.jsonl", 0).report();
        assertThat(r.turns()).isEqualTo(2);
        assertThat(r.costUsd()).isEqualTo(0.0016);
        assertThat(verdict(r, null, StepProcess.Ending.EXITED, 1).errorCode()).isEqualTo("budget_exceeded");
    }

    @Test
    void resume_budget_and_permission_mode_reach_the_command_line() {
        AgentDefinition def = new AgentDefinition("c", "claude", "/opt/claude", List.of("--model", "m"), List.of(), Map.of("X", "1"), 0);
        Invocation inv = ClaudeCodeAdapter.INSTANCE.invocation(def, CTX, new StepOptions(List.of("Read"), 5, "sess-1", 0.25));
        assertThat(inv.argv()).containsExactly("/opt/claude", "-p", "--output-format", "stream-json", "--verbose",
                "--max-turns", "5", "--max-budget-usd", "0.250000", "--permission-mode", "acceptEdits", "--resume", "sess-1",
                "--model", "m", "--allowedTools", "Read");
        assertThat(inv.env()).containsEntry("X", "1").containsEntry("DISABLE_AUTOUPDATER", "1");
        assertThat(ClaudeCodeAdapter.INSTANCE.resumesSessions()).isTrue();
        AgentDefinition own = new AgentDefinition("c", "claude", null, List.of("--permission-mode", "plan"), List.of(), Map.of(), 0);
        assertThat(ClaudeCodeAdapter.INSTANCE.invocation(own, CTX, StepOptions.NONE).argv())
                .containsExactly("claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "plan");
    }

    private static String retry(int attempt, int status, String error) {
        return "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":" + attempt + ",\"max_retries\":10,\"retry_delay_ms\":500,"
                + "\"error_status\":" + status + ",\"error\":\"" + error + "\",\"session_id\":\"s\"}";
    }
}
