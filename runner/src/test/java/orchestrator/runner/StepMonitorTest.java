package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import orchestrator.core.job.Budget;
import orchestrator.core.job.Limits;
import orchestrator.runner.agent.AgentAdapter;
import orchestrator.runner.agent.StepVerdict;
import orchestrator.runner.process.StepProcess;
import org.junit.jupiter.api.Test;

class StepMonitorTest {
    /**
     * Real codex against the OpenAI stand-in: one answer whose usage (2.5 M tokens) is in turn.completed,
     * its last line, and then exit 0 at once: the process has exited before the supervisor acts on the
     * monitor's abort, and the step must still be budget_exceeded, not succeeded.
     */
    @Test
    void codex_usage_over_budget_in_its_last_event_ends_budget_exceeded_though_it_exited_zero() throws IOException {
        AgentAdapter codex = AgentAdapter.forType("codex");
        StepMonitor m = new StepMonitor(codex.parser(), new Budget(null, 100_000L, null), JobUsage.NONE);
        try (InputStream in = getClass().getResourceAsStream("/fixtures/codex/over-budget.jsonl")) {
            new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().forEach(m::line);
        }
        assertThat(m.abortCode()).isEqualTo("budget_exceeded");
        StepVerdict v = StepVerdict.of(codex, new StepProcess.Result(StepProcess.Ending.EXITED, 0, null, 10), m.report(),
                m.abortCode(), new Limits(60L, 1024L, 64L, 64L, 256L), 60, 10);
        assertThat(v.status()).isEqualTo("failed");
        assertThat(v.errorCode()).isEqualTo("budget_exceeded");
    }
}
