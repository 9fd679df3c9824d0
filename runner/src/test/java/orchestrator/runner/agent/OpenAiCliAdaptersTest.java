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
 * Codex and OpenCode: their command lines, and their parsers over outputs the real CLIs printed
 * against an OpenAI stand-in (fixtures/README.md).
 */
class OpenAiCliAdaptersTest {
    private static final Limits LIMITS = new Limits(60L, 1024L, 64L, 64L, 256L);
    private final StepContext ctx = new StepContext(Path.of("/a/steps/s1/prompt.txt"), Path.of("/w/j1"), "j1", "s1", Path.of("/a"));

    private static AgentReport parse(AgentAdapter adapter, String... fixtures) throws IOException {
        OutputParser p = adapter.parser();
        for (String f : fixtures) {
            try (InputStream in = OpenAiCliAdaptersTest.class.getResourceAsStream("/fixtures/" + f)) {
                assertThat(in).as(f).isNotNull();
                new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().forEach(p::accept);
            }
        }
        return p.report();
    }

    private static StepVerdict verdict(AgentAdapter a, AgentReport r, StepProcess.Ending ending, int exit) {
        return StepVerdict.of(a, new StepProcess.Result(ending, exit, null, 10), r, r.abortCode(), LIMITS, 60, 10);
    }

    @Test
    void codex_resumes_with_the_exec_resume_subcommand_after_every_option() {
        AgentDefinition def = new AgentDefinition("c", "codex", "/opt/codex", List.of("-m", "gpt-5"), List.of(), Map.of(), 0);
        Invocation inv = AgentLaunch.invocation(def, ctx, new StepOptions(null, null, "0199a213-81c0-7800-8aa1-bbab2a035a53"));
        assertThat(inv.argv()).containsExactly("/opt/codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write",
                "-m", "gpt-5", "resume", "0199a213-81c0-7800-8aa1-bbab2a035a53", "-");
        assertThat(inv.stdin()).isEqualTo(ctx.promptFile());
        assertThat(CodexAdapter.INSTANCE.resumesSessions()).isTrue();
    }

    @Test
    void opencode_names_its_session_so_it_makes_no_title_call_and_resumes_with_session() {
        Invocation fresh = AgentLaunch.invocation(AgentDefinition.builtIn("opencode"), ctx, StepOptions.NONE);
        assertThat(fresh.argv()).containsExactly("opencode", "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
                "--title", "j1/s1");
        AgentDefinition def = new AgentDefinition("o", "opencode", "/opt/opencode", List.of("-m", "p/m"), List.of(), Map.of(), 0);
        Invocation resumed = AgentLaunch.invocation(def, ctx, new StepOptions(null, null, "ses_5a1b2c3d4e5fAbCdEfGhIjKlMn"));
        assertThat(resumed.argv()).containsExactly("/opt/opencode", "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
                "--title", "j1/s1", "-m", "p/m", "--session", "ses_5a1b2c3d4e5fAbCdEfGhIjKlMn");
        assertThat(OpenCodeAdapter.INSTANCE.resumesSessions()).isTrue();
    }

    @Test
    void opencode_runs_without_fetching_models_dev_unless_the_operator_says_otherwise() {
        Invocation inv = AgentLaunch.invocation(AgentDefinition.builtIn("opencode"), ctx, StepOptions.NONE);
        assertThat(inv.env()).containsEntry("OPENCODE_DISABLE_MODELS_FETCH", "1");
        AgentDefinition def = new AgentDefinition("o", "opencode", null, List.of(), List.of(),
                Map.of("OPENCODE_DISABLE_MODELS_FETCH", "0", "K", "v"), 0);
        assertThat(AgentLaunch.invocation(def, ctx, StepOptions.NONE).env())
                .containsEntry("OPENCODE_DISABLE_MODELS_FETCH", "0").containsEntry("K", "v");
    }

    @Test
    void opencode_gets_an_address_space_above_what_bun_reserves() {
        // observed VmPeak 135 GB for 0.5 GB resident (1.18.33); the runner's default is 4 GB
        assertThat(OpenCodeAdapter.INSTANCE.minAddressSpaceMb()).isGreaterThan(135L * 1024);
    }

    @Test
    void codex_401_aborts_auth_failed_at_its_first_retry() throws IOException {
        OutputParser p = CodexAdapter.INSTANCE.parser();
        try (InputStream in = getClass().getResourceAsStream("/fixtures/codex/unauthorized.jsonl")) {
            List<String> lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
            int firstRetry = 0;
            while (!lines.get(firstRetry).contains("Reconnecting... 1/5")) {
                firstRetry++;
            }
            lines.subList(0, firstRetry + 1).forEach(p::accept);
        }
        AgentReport r = p.report();
        assertThat(r.abortCode()).isEqualTo("auth_failed");
        assertThat(verdict(CodexAdapter.INSTANCE, r, StepProcess.Ending.ABORTED, 137).errorCode()).isEqualTo("auth_failed");
        AgentReport whole = parse(CodexAdapter.INSTANCE, "codex/unauthorized.jsonl");
        assertThat(verdict(CodexAdapter.INSTANCE, whole, StepProcess.Ending.EXITED, 1).errorCode()).isEqualTo("auth_failed");
    }

    @Test
    void codex_500_reported_as_high_demand_is_provider_error_and_retried() throws IOException {
        AgentReport r = parse(CodexAdapter.INSTANCE, "codex/server-error.jsonl");
        StepVerdict v = verdict(CodexAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("provider_error");
        assertThat(v.retryable()).isTrue();
    }

    @Test
    void codex_model_metadata_warning_is_no_error() throws IOException {
        AgentReport r = parse(CodexAdapter.INSTANCE, "codex/over-budget.jsonl");
        assertThat(r.errorCode()).isNull();
        assertThat(r.tokensIn()).isEqualTo(2_400_000);
        assertThat(r.tokensOut()).isEqualTo(100_000);
        assertThat(r.finalMessage()).isEqualTo("Hello there.");
    }

    @Test
    void opencode_failing_to_fetch_models_dev_is_not_an_unreachable_provider() throws IOException {
        AgentReport r = parse(OpenCodeAdapter.INSTANCE, "opencode/server-error.stderr.txt");
        // the models.dev line comes first; the provider's own 500s after it are what went wrong
        assertThat(r.errorCode()).isEqualTo("provider_error");
        assertThat(r.abortCode()).isEqualTo("provider_error");
        OutputParser only = OpenCodeAdapter.INSTANCE.parser();
        only.accept("timestamp=2026-11-23T12:50:50.769Z level=ERROR run=f98653ad message=\"Failed to fetch models.dev\""
                + " cause=\"Cause([Fail(HttpClientError: Transport error (GET https://models.opencode.ai/api.json)"
                + " (cause: Error: Unable to connect. Is the computer able to access the url?))])\"");
        assertThat(only.report().errorCode()).isNull();
        assertThat(verdict(OpenCodeAdapter.INSTANCE, only.report(), StepProcess.Ending.EXITED, 1).errorCode())
                .isEqualTo("agent_exit_nonzero");
    }

    @Test
    void opencode_endless_5xx_retries_abort_provider_error() throws IOException {
        AgentReport r = parse(OpenCodeAdapter.INSTANCE, "opencode/server-error.stderr.txt");
        StepVerdict v = verdict(OpenCodeAdapter.INSTANCE, r, StepProcess.Ending.ABORTED, 137);
        assertThat(v.errorCode()).isEqualTo("provider_error");
        assertThat(v.retryable()).isTrue();
    }

    @Test
    void opencode_429_given_up_is_rate_limited_with_the_providers_retry_after() throws IOException {
        AgentReport r = parse(OpenCodeAdapter.INSTANCE, "opencode/rate-limited.stderr.txt", "opencode/rate-limited.jsonl");
        assertThat(r.retryAfterMs()).isEqualTo(3000L);
        assertThat(r.abortCode()).isNull();
        StepVerdict v = verdict(OpenCodeAdapter.INSTANCE, r, StepProcess.Ending.EXITED, 1);
        assertThat(v.errorCode()).isEqualTo("rate_limited");
        assertThat(v.retryable()).isTrue();
    }

    @Test
    void opencode_error_event_status_decides_the_code() {
        OutputParser p = OpenCodeAdapter.INSTANCE.parser();
        p.accept("{\"type\":\"error\",\"sessionID\":\"ses_1\",\"error\":{\"name\":\"APIError\",\"data\":{\"message\":\"nope\","
                + "\"statusCode\":401,\"isRetryable\":false,\"responseHeaders\":{}}}}");
        assertThat(p.report().errorCode()).isEqualTo("auth_failed");
        OutputParser five = OpenCodeAdapter.INSTANCE.parser();
        five.accept("{\"type\":\"error\",\"sessionID\":\"ses_1\",\"error\":{\"name\":\"APIError\",\"data\":{\"message\":\"boom\","
                + "\"statusCode\":502,\"responseHeaders\":{\"retry-after-ms\":\"1500\"}}}}");
        assertThat(five.report().errorCode()).isEqualTo("provider_error");
        assertThat(five.report().retryAfterMs()).isEqualTo(1500L);
    }
}
