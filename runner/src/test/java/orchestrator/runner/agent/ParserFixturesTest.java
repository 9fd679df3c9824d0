package orchestrator.runner.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import orchestrator.core.job.Limits;
import orchestrator.runner.process.StepProcess;
import org.junit.jupiter.api.Test;

/** Each CLI's parser over recorded outputs (see fixtures/README.md), then the verdict the runner would give. */
class ParserFixturesTest {
    private static final Limits LIMITS = new Limits(60L, 1024L, 64L, 64L, 256L);

    private static AgentReport parse(AgentAdapter adapter, String... fixtures) throws IOException {
        OutputParser p = adapter.parser();
        for (String f : fixtures) {
            try (InputStream in = ParserFixturesTest.class.getResourceAsStream("/fixtures/" + f)) {
                assertThat(in).as(f).isNotNull();
                new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().forEach(p::accept);
            }
        }
        return p.report();
    }

    private static StepVerdict verdict(AgentAdapter a, AgentReport r, StepProcess.Ending ending, int exit) {
        return StepVerdict.of(a, new StepProcess.Result(ending, exit, null, 10), r, null, LIMITS, 60, 10);
    }

    @Test
    void claude_success_yields_message_session_turns_tokens_and_cost() throws IOException {
        AgentReport r = parse(ClaudeCodeAdapter.INSTANCE, "claude/success.jsonl");
        assertThat(r.finalMessage()).isEqualTo("Added GET /health returning 200.");
        assertThat(r.sessionId()).isEqualTo("8f2c1e9a-3b4d-4c5e-9f60-1a2b3c4d5e6f");
        assertThat(r.turns()).isEqualTo(2);
        assertThat(r.tokensIn()).isEqualTo(4400);
        assertThat(r.tokensOut()).isEqualTo(107);
        assertThat(r.costUsd()).isEqualTo(0.0213);
        assertThat(r.resultSeen()).isTrue();
        assertThat(r.resultIsError()).isFalse();
        assertThat(verdict(ClaudeCodeAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 0).status()).isEqualTo("succeeded");
    }

    @Test
    void claude_live_usage_counts_each_message_once_before_the_result() {
        OutputParser p = ClaudeCodeAdapter.INSTANCE.parser();
        p.accept("{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[],\"usage\":{\"input_tokens\":100,\"output_tokens\":5}}}");
        p.accept("{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[],\"usage\":{\"input_tokens\":100,\"output_tokens\":9}}}");
        p.accept("{\"type\":\"assistant\",\"message\":{\"id\":\"m2\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":50,\"output_tokens\":1}}}");
        AgentReport r = p.report();
        assertThat(r.turns()).isEqualTo(2);
        assertThat(r.tokens()).isEqualTo(160);
        assertThat(r.finalMessage()).isEqualTo("hi");
        assertThat(r.resultSeen()).isFalse();
    }

    @Test
    void claude_without_a_login_is_auth_failed() throws IOException {
        AgentReport r = parse(ClaudeCodeAdapter.INSTANCE, "claude/not-logged-in.jsonl");
        assertThat(r.resultIsError()).isTrue();
        assertThat(r.errorCode()).isEqualTo("auth_failed");
        StepVerdict v = verdict(ClaudeCodeAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("auth_failed");
        assertThat(v.message()).contains("Not logged in");
    }

    @Test
    void claude_retrying_without_network_ended_by_the_idle_timer_is_idle_timeout_naming_the_last_error() throws IOException {
        AgentReport r = parse(ClaudeCodeAdapter.INSTANCE, "claude/api-retry-no-network.jsonl");
        assertThat(r.errorCode()).isEqualTo("provider_unreachable");
        StepVerdict v = verdict(ClaudeCodeAdapter.INSTANCE, r, StepProcess.Ending.IDLE_TIMEOUT, 137);
        // the runner's timer is the fact; the retries are the likely cause, named in the message
        assertThat(v.errorCode()).isEqualTo("idle_timeout");
        assertThat(v.exitCode()).isNull();
        assertThat(v.message()).contains("without output").contains("API retry 5/10");
    }

    @Test
    void claude_is_error_result_fails_even_with_exit_zero_and_max_turns_is_budget_exceeded() throws IOException {
        AgentReport r = parse(ClaudeCodeAdapter.INSTANCE, "claude/max-turns.jsonl");
        StepVerdict v = verdict(ClaudeCodeAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 0);
        assertThat(v.status()).isEqualTo("failed");
        assertThat(v.errorCode()).isEqualTo("budget_exceeded");
    }

    @Test
    void codex_success_yields_message_thread_tokens() throws IOException {
        AgentReport r = parse(CodexAdapter.INSTANCE, "codex/success.jsonl");
        assertThat(r.finalMessage()).isEqualTo("Added GET /health returning 200.");
        assertThat(r.sessionId()).isEqualTo("0199a213-81c0-7800-8aa1-bbab2a035a53");
        assertThat(r.turns()).isEqualTo(1);
        assertThat(r.tokensIn()).isEqualTo(24763);
        assertThat(r.tokensOut()).isEqualTo(122);
        assertThat(r.costUsd()).isZero();
        assertThat(verdict(CodexAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 0).status()).isEqualTo("succeeded");
    }

    @Test
    void codex_waiting_for_network_aborts_provider_unreachable() throws IOException {
        AgentReport r = parse(CodexAdapter.INSTANCE, "codex/no-network.jsonl", "codex/no-network.stderr.txt");
        assertThat(r.errorCode()).isEqualTo("provider_unreachable");
        assertThat(r.abortCode()).isEqualTo("provider_unreachable");
        assertThat(r.abortMessage()).contains("waiting for network");
    }

    @Test
    void codex_turn_failed_by_429_is_rate_limited() throws IOException {
        AgentReport r = parse(CodexAdapter.INSTANCE, "codex/turn-failed.jsonl");
        StepVerdict v = verdict(CodexAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("rate_limited");
    }

    @Test
    void opencode_success_sums_steps() throws IOException {
        AgentReport r = parse(OpenCodeAdapter.INSTANCE, "opencode/success.jsonl");
        assertThat(r.finalMessage()).isEqualTo("Added GET /health returning 200.");
        assertThat(r.sessionId()).isEqualTo("ses_5a1b2c3d4e5fAbCdEfGhIjKlMn");
        assertThat(r.turns()).isEqualTo(2);
        assertThat(r.tokensIn()).isEqualTo(3200);
        assertThat(r.tokensOut()).isEqualTo(75);
        assertThat(r.costUsd()).isCloseTo(0.002, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(r.resultSeen()).isTrue();
        assertThat(verdict(OpenCodeAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 0).status()).isEqualTo("succeeded");
    }

    @Test
    void opencode_connection_errors_abort_and_auth_errors_are_auth_failed() throws IOException {
        AgentReport r = parse(OpenCodeAdapter.INSTANCE, "opencode/no-network.stderr.txt");
        assertThat(r.abortCode()).isEqualTo("provider_unreachable");
        AgentReport auth = parse(OpenCodeAdapter.INSTANCE, "opencode/auth-error.jsonl");
        assertThat(verdict(OpenCodeAdapter.INSTANCE, auth, StepProcess.Ending.EXITED, 1).errorCode()).isEqualTo("auth_failed");
    }

    @Test
    void gemini_success_joins_deltas_and_reads_stats() throws IOException {
        AgentReport r = parse(GeminiAdapter.INSTANCE, "gemini/success.jsonl");
        assertThat(r.finalMessage()).isEqualTo("Added GET /health returning 200.");
        assertThat(r.sessionId()).isEqualTo("375543b7-85a1-4d2b-854a-0a3e5896e6ad");
        assertThat(r.turns()).isEqualTo(2);
        assertThat(r.tokensIn()).isEqualTo(3200);
        assertThat(r.tokensOut()).isEqualTo(150);
        assertThat(verdict(GeminiAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 0).status()).isEqualTo("succeeded");
    }

    @Test
    void gemini_exit_codes_and_stderr_map_to_codes() throws IOException {
        AgentReport noKey = parse(GeminiAdapter.INSTANCE, "gemini/no-key.stderr.txt");
        assertThat(verdict(GeminiAdapter.INSTANCE, noKey, StepProcess.Ending.EXITED, 41).errorCode()).isEqualTo("auth_failed");
        AgentReport silent = parse(GeminiAdapter.INSTANCE);
        assertThat(verdict(GeminiAdapter.INSTANCE, silent, StepProcess.Ending.EXITED, 55).errorCode()).isEqualTo("policy");
        assertThat(verdict(GeminiAdapter.INSTANCE, silent, StepProcess.Ending.EXITED, 7).errorCode()).isEqualTo("agent_exit_nonzero");
        AgentReport net = parse(GeminiAdapter.INSTANCE, "gemini/no-network.jsonl", "gemini/no-network.stderr.txt");
        assertThat(net.errorCode()).isEqualTo("provider_unreachable");
        StepVerdict idle = verdict(GeminiAdapter.INSTANCE, net, StepProcess.Ending.IDLE_TIMEOUT, 137);
        assertThat(idle.errorCode()).isEqualTo("idle_timeout");
        assertThat(idle.message()).contains("last error").containsIgnoringCase("fetch failed");
        AgentReport turns = parse(GeminiAdapter.INSTANCE, "gemini/turn-limit.jsonl");
        assertThat(verdict(GeminiAdapter.INSTANCE, turns, StepProcess.Ending.EXITED, 53).errorCode()).isEqualTo("budget_exceeded");
    }

    @Test
    void structured_cli_exiting_zero_without_a_result_is_parse_error() {
        OutputParser p = ClaudeCodeAdapter.INSTANCE.parser();
        p.accept("this is not json");
        StepVerdict v = verdict(ClaudeCodeAdapter.INSTANCE, p.report(), StepProcess.Ending.EXITED, 0);
        assertThat(v.errorCode()).isEqualTo("parse_error");
        OutputParser cut = CodexAdapter.INSTANCE.parser();
        cut.accept("{\"type\":\"thread.started\",\"thread_id\":\"t\"}");
        cut.accept("{\"type\":\"turn.compl");
        assertThat(verdict(CodexAdapter.INSTANCE, cut.report(), StepProcess.Ending.EXITED, 0).errorCode()).isEqualTo("parse_error");
    }

    @Test
    void aider_report_lines_give_tokens_and_cost() {
        OutputParser p = AiderAdapter.INSTANCE.parser();
        p.accept("Applied edit to app.py");
        p.accept("Tokens: 1.2k sent, 310 received. Cost: $0.01 message, $0.03 session.");
        p.accept("Done: the health check is in.");
        AgentReport r = p.report();
        assertThat(r.tokensIn()).isEqualTo(1200);
        assertThat(r.tokensOut()).isEqualTo(310);
        assertThat(r.costUsd()).isEqualTo(0.03);
        assertThat(r.finalMessage()).isEqualTo("Done: the health check is in.");
        OutputParser e = AiderAdapter.INSTANCE.parser();
        e.accept("litellm.AuthenticationError: AnthropicException - invalid x-api-key");
        assertThat(verdict(AiderAdapter.INSTANCE, e.report(), StepProcess.Ending.EXITED, 1).errorCode()).isEqualTo("auth_failed");
    }

    @Test
    void error_text_recognises_the_documented_causes() {
        assertThat(ErrorText.classify("Error: 429 Too Many Requests")).isEqualTo("rate_limited");
        assertThat(ErrorText.classify("API Error: status 401 invalid")).isEqualTo("auth_failed");
        assertThat(ErrorText.classify("getaddrinfo ENOTFOUND api.anthropic.com")).isEqualTo("provider_unreachable");
        assertThat(ErrorText.classify("compiled 401 files")).isNull();
    }
}
