package orchestrator.runner.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import orchestrator.core.job.Limits;
import orchestrator.runner.process.StepProcess;
import org.junit.jupiter.api.Test;

class StepVerdictTest {
    private static final Limits LIMITS = new Limits(60L, 1024L, 64L, 64L, 256L);

    private static AgentReport report(boolean resultSeen, String errorCode, List<String> denied) {
        return new AgentReport("done", "s-1", 1, 10, 5, 0, resultSeen, false, errorCode,
                errorCode == null ? null : "Unable to connect to models.dev", 3, null, null, List.of(), denied, null);
    }

    private static StepVerdict verdict(StepProcess.Ending ending, int exit, AgentReport r, String abortCode) {
        return StepVerdict.of(ClaudeCodeAdapter.INSTANCE, new StepProcess.Result(ending, exit, "why", 10), r, abortCode, LIMITS, 60, 10);
    }

    @Test
    void the_runners_own_timers_decide_the_code_and_the_guess_from_the_text_goes_in_the_message() {
        AgentReport guessed = report(false, "provider_unreachable", List.of());
        StepVerdict idle = verdict(StepProcess.Ending.IDLE_TIMEOUT, 137, guessed, null);
        assertThat(idle.errorCode()).isEqualTo("idle_timeout");
        assertThat(idle.message()).contains("10 s without output", "last error: Unable to connect");
        StepVerdict wall = verdict(StepProcess.Ending.TIMEOUT, 137, guessed, null);
        assertThat(wall.errorCode()).isEqualTo("timeout");
        assertThat(wall.message()).contains("timeout_sec 60");
        assertThat(idle.retryable()).isFalse();
        assertThat(wall.retryable()).isFalse();
    }

    @Test
    void a_process_the_runner_killed_records_no_exit_code() {
        AgentReport ok = report(true, null, List.of());
        for (StepProcess.Ending e : List.of(StepProcess.Ending.TIMEOUT, StepProcess.Ending.IDLE_TIMEOUT, StepProcess.Ending.STOPPED,
                StepProcess.Ending.ABORTED, StepProcess.Ending.RESULT_NO_EXIT)) {
            assertThat(verdict(e, 0, ok, "budget_exceeded").exitCode()).as(e.name()).isNull();
        }
        StepVerdict lingering = verdict(StepProcess.Ending.RESULT_NO_EXIT, 0, ok, null);
        assertThat(lingering.status()).isEqualTo("succeeded");
        assertThat(verdict(StepProcess.Ending.EXITED, 0, ok, null).exitCode()).isZero();
    }

    @Test
    void a_budget_crossed_by_the_last_event_of_a_cli_that_exited_at_once_is_budget_exceeded() {
        StepVerdict v = verdict(StepProcess.Ending.EXITED, 0, report(true, null, List.of()), "budget_exceeded");
        assertThat(v.status()).isEqualTo("failed");
        assertThat(v.errorCode()).isEqualTo("budget_exceeded");
        assertThat(v.exitCode()).isZero();
        assertThat(v.retryable()).isFalse();
    }

    @Test
    void a_run_whose_tool_calls_were_refused_is_tool_denied_not_success() {
        StepVerdict v = verdict(StepProcess.Ending.EXITED, 0, report(true, null, List.of("Write: notes.txt", "Bash: rm -rf x")), null);
        assertThat(v.status()).isEqualTo("failed");
        assertThat(v.errorCode()).isEqualTo("tool_denied");
        assertThat(v.message()).contains("2 tool call(s)", "Write: notes.txt", "Bash: rm -rf x");
        assertThat(v.retryable()).isFalse();
        assertThat(verdict(StepProcess.Ending.RESULT_NO_EXIT, 0, report(true, null, List.of("Write: a")), null).errorCode())
                .isEqualTo("tool_denied");
    }

    @Test
    void rate_limits_and_provider_errors_are_retried_other_recognised_causes_are_not() {
        assertThat(StepVerdict.failed(1, "rate_limited", "429", null).retryable()).isTrue();
        assertThat(StepVerdict.failed(1, "provider_error", "529 overloaded", null).retryable()).isTrue();
        assertThat(StepVerdict.failed(1, "agent_exit_nonzero", "exit 1", null).retryable()).isTrue();
        for (String code : List.of("auth_failed", "provider_unreachable", "budget_exceeded", "policy", "parse_error", "tool_denied")) {
            assertThat(StepVerdict.failed(1, code, "x", null).retryable()).as(code).isFalse();
        }
    }

    @Test
    void provider_failures_are_told_from_connection_failures() {
        assertThat(ErrorText.classify("API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}")).isEqualTo("provider_error");
        assertThat(ErrorText.classify("Attempt 2 failed with status 503. Retrying with backoff...")).isEqualTo("provider_error");
        assertThat(ErrorText.classify("HTTP 500 Internal Server Error")).isEqualTo("provider_error");
        assertThat(ErrorText.classify("fetch failed: ECONNREFUSED")).isEqualTo("provider_unreachable");
        assertThat(ErrorText.classify("status 429 Too Many Requests")).isEqualTo("rate_limited");
        assertThat(ErrorText.classify("exited after 5000 ms")).isNull();
    }
}
