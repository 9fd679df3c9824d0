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
 * Gemini's command line and parser over outputs of the real CLI (0.61.0) recorded against a local
 * stand-in of the Gemini API ({@code fixtures/gemini/stand-in-*.out.txt}: stdout and stderr merged,
 * as the runner reads them; see fixtures/README.md).
 */
class GeminiAdapterTest {
    private static final Limits LIMITS = new Limits(60L, 1024L, 64L, 64L, 256L);
    private static final StepContext CTX = new StepContext(Path.of("/w/prompt.md"), Path.of("/w/job"), "j1", "s1", Path.of("/w/a"));

    private static AgentDefinition gemini(List<String> args) {
        return new AgentDefinition("gemini", "gemini", "gemini", args, List.of(), Map.of(), 0);
    }

    private static AgentReport parse(String fixture) throws IOException {
        OutputParser p = GeminiAdapter.INSTANCE.parser();
        try (InputStream in = GeminiAdapterTest.class.getResourceAsStream("/fixtures/gemini/" + fixture)) {
            assertThat(in).as(fixture).isNotNull();
            new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().forEach(p::accept);
        }
        return p.report();
    }

    private static StepVerdict verdict(AgentReport r, StepProcess.Ending ending, int exit) {
        return StepVerdict.of(GeminiAdapter.INSTANCE, new StepProcess.Result(ending, exit, null, 10), r, r.abortCode(), LIMITS, 60, 10);
    }

    @Test
    void two_allowed_tools_go_as_one_comma_separated_value_after_the_operators_args() {
        Invocation inv = GeminiAdapter.INSTANCE.invocation(gemini(List.of("-m", "gemini-2.5-pro")), CTX,
                new StepOptions(List.of("write_file", "run_shell_command"), null));
        assertThat(inv.argv()).containsExactly("gemini", "--output-format", "stream-json", "--skip-trust", "-p",
                GeminiAdapter.PROMPT_SUFFIX, "--approval-mode", "auto_edit", "-m", "gemini-2.5-pro",
                "--allowed-tools", "write_file,run_shell_command");
        assertThat(inv.stdin()).isEqualTo(CTX.promptFile());
    }

    @Test
    void edits_are_approved_unless_the_operator_chose_an_approval_mode() {
        for (List<String> own : List.of(List.of("--approval-mode", "yolo"), List.of("--yolo"), List.of("-y"))) {
            Invocation inv = GeminiAdapter.INSTANCE.invocation(gemini(own), CTX, StepOptions.NONE);
            assertThat(inv.argv()).as("%s", own).doesNotContain("auto_edit").endsWith(own.toArray(String[]::new));
        }
    }

    @Test
    void space_separated_tools_made_gemini_print_its_help_and_exit_1_which_reads_agent_exit_nonzero() throws IOException {
        // what `--allowed-tools write_file run_shell_command` did: the second tool became a positional prompt
        AgentReport r = parse("stand-in-two-tools-split.out.txt");
        assertThat(r.tail()).anyMatch(l -> l.contains("Show help"));
        StepVerdict v = verdict(r, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("agent_exit_nonzero");
    }

    @Test
    void a_session_to_resume_is_passed_as_resume_and_none_starts_a_new_one() {
        assertThat(GeminiAdapter.INSTANCE.resumesSessions()).isTrue();
        Invocation resumed = GeminiAdapter.INSTANCE.invocation(gemini(List.of()), CTX,
                new StepOptions(null, null, "4b3bce76-7b5f-4079-a8df-251253f523a9"));
        assertThat(resumed.argv()).containsSequence("--resume", "4b3bce76-7b5f-4079-a8df-251253f523a9");
        Invocation fresh = GeminiAdapter.INSTANCE.invocation(gemini(List.of()), CTX, StepOptions.NONE);
        assertThat(fresh.argv()).doesNotContain("--resume", "--allowed-tools");
    }

    @Test
    void a_write_file_run_counts_one_turn_per_model_response_and_reads_the_result_stats() throws IOException {
        AgentReport r = parse("stand-in-write-file.out.txt");
        assertThat(r.sessionId()).isEqualTo("e4a40de3-6c22-41d6-a250-f1b982fa329b");
        assertThat(r.finalMessage()).isEqualTo("Wrote hello.txt.");
        // the functionCall-only response is a turn too: gemini's maxSessionTurns counts it
        assertThat(r.turns()).isEqualTo(2);
        assertThat(r.tokensIn()).isEqualTo(223);
        assertThat(r.tokensOut()).isEqualTo(12);
        assertThat(r.deniedTools()).isEmpty();
        assertThat(r.abortCode()).isNull();
        assertThat(verdict(r, StepProcess.Ending.EXITED, 0).status()).isEqualTo("succeeded");
    }

    @Test
    void a_tool_gemini_does_not_have_headless_is_a_denied_tool_and_the_step_fails_tool_denied() throws IOException {
        AgentReport r = parse("stand-in-tool-not-found.out.txt");
        assertThat(r.deniedTools()).singleElement().asString().startsWith("write_file: Tool \"write_file\" not found");
        StepVerdict v = verdict(r, StepProcess.Ending.EXITED, 0);
        assertThat(v.errorCode()).isEqualTo("tool_denied");
        assertThat(v.message()).contains("write_file");
    }

    @Test
    void a_tool_call_that_needs_a_confirmation_nobody_can_give_is_denied() {
        OutputParser p = GeminiAdapter.INSTANCE.parser();
        p.accept("{\"type\":\"tool_use\",\"tool_name\":\"run_shell_command\",\"tool_id\":\"t1\",\"parameters\":{}}");
        p.accept("{\"type\":\"tool_result\",\"tool_id\":\"t1\",\"status\":\"error\",\"output\":\"x\",\"error\":{\"type\":"
                + "\"unhandled_exception\",\"message\":\"Tool execution for \\\"Shell\\\" requires user confirmation, which is not"
                + " supported in non-interactive mode.\"}}");
        p.accept("{\"type\":\"tool_use\",\"tool_name\":\"read_file\",\"tool_id\":\"t2\",\"parameters\":{}}");
        p.accept("{\"type\":\"tool_result\",\"tool_id\":\"t2\",\"status\":\"error\",\"error\":{\"type\":\"file_not_found\",\"message\":\"no\"}}");
        // a tool that ran and failed is the agent's business, not a refusal
        assertThat(p.report().deniedTools()).singleElement().asString().startsWith("run_shell_command: ");
    }

    @Test
    void a_429_with_retry_info_aborts_rate_limited_with_the_servers_delay() throws IOException {
        AgentReport r = parse("stand-in-429-retryinfo.out.txt");
        assertThat(r.abortCode()).isEqualTo("rate_limited");
        assertThat(r.retryAfterMs()).isEqualTo(3000L);
        assertThat(r.abortMessage()).contains("Resource has been exhausted");
        StepVerdict v = verdict(r, StepProcess.Ending.ABORTED, 137);
        assertThat(v.errorCode()).isEqualTo("rate_limited");
        assertThat(v.retryable()).isTrue();
    }

    @Test
    void a_429_without_retry_info_aborts_rate_limited_without_a_delay() throws IOException {
        AgentReport r = parse("stand-in-429.out.txt");
        assertThat(r.abortCode()).isEqualTo("rate_limited");
        assertThat(r.retryAfterMs()).isNull();
    }

    @Test
    void a_429_after_an_answered_turn_is_left_to_geminis_retries_until_the_third() {
        OutputParser p = GeminiAdapter.INSTANCE.parser();
        p.accept("{\"type\":\"tool_use\",\"tool_name\":\"write_file\",\"tool_id\":\"t1\",\"parameters\":{}}");
        p.accept("{\"type\":\"tool_result\",\"tool_id\":\"t1\",\"status\":\"success\"}");
        for (int i = 1; i <= 2; i++) {
            p.accept("Attempt " + i + " failed with status 429. Retrying with backoff... _ApiError: {\"error\":{\"code\":429}}");
            assertThat(p.report().abortCode()).as("after report %d", i).isNull();
        }
        assertThat(p.report().errorCode()).isEqualTo("rate_limited");
        p.accept("Attempt 3 failed with status 429. Retrying with backoff... _ApiError: {\"error\":{\"code\":429}}");
        assertThat(p.report().abortCode()).isEqualTo("rate_limited");
    }

    @Test
    void a_500_or_503_aborts_provider_error() throws IOException {
        for (String f : List.of("stand-in-500.out.txt", "stand-in-503.out.txt")) {
            AgentReport r = parse(f);
            assertThat(r.abortCode()).as(f).isEqualTo("provider_error");
            assertThat(r.errorCode()).as(f).isEqualTo("provider_error");
            assertThat(verdict(r, StepProcess.Ending.ABORTED, 137).retryable()).as(f).isTrue();
        }
    }

    @Test
    void a_401_ends_with_an_error_result_that_is_auth_failed() throws IOException {
        AgentReport r = parse("stand-in-401.out.txt");
        assertThat(r.resultIsError()).isTrue();
        assertThat(verdict(r, StepProcess.Ending.EXITED, 1).errorCode()).isEqualTo("auth_failed");
    }

    @Test
    void repeated_fetch_failures_abort_provider_unreachable_before_an_idle_timer() throws IOException {
        OutputParser p = GeminiAdapter.INSTANCE.parser();
        for (String f : List.of("no-network.jsonl", "no-network.stderr.txt")) {
            try (InputStream in = GeminiAdapterTest.class.getResourceAsStream("/fixtures/gemini/" + f)) {
                new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().forEach(p::accept);
            }
        }
        AgentReport r = p.report();
        assertThat(r.abortCode()).isEqualTo("provider_unreachable");
        assertThat(r.abortMessage()).contains("2 failed attempts").contains("fetch failed");
        assertThat(verdict(r, StepProcess.Ending.ABORTED, 137).errorCode()).isEqualTo("provider_unreachable");
    }

    @Test
    void an_operators_max_session_turns_ends_budget_exceeded_after_that_many_model_calls() throws IOException {
        // settings.json model.maxSessionTurns 1: one model call (a write_file), then exit 53
        AgentReport r = parse("stand-in-max-session-turns.out.txt");
        assertThat(r.turns()).isEqualTo(1);
        StepVerdict v = verdict(r, StepProcess.Ending.EXITED, 53);
        assertThat(v.errorCode()).isEqualTo("budget_exceeded");
        assertThat(v.message()).contains("FatalTurnLimitedError");
    }

    @Test
    void a_single_fetch_failure_is_left_to_geminis_own_retry() {
        OutputParser p = GeminiAdapter.INSTANCE.parser();
        p.accept("Attempt 1 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request");
        assertThat(p.report().abortCode()).isNull();
        assertThat(p.report().errorCode()).isEqualTo("provider_unreachable");
    }
}
