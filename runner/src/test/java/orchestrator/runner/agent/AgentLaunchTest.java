package orchestrator.runner.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import orchestrator.core.agent.AgentDefinition;
import org.junit.jupiter.api.Test;

class AgentLaunchTest {
    private final StepContext ctx = new StepContext(Path.of("/a/steps/s1/prompt.txt"), Path.of("/w/j1"), "j1", "s1", Path.of("/a"));

    @Test
    void command_placeholders_are_substituted_once_in_every_argument() {
        AgentDefinition def = new AgentDefinition("c", "command", null, List.of(),
                List.of("run", "{workdir}/x", "--job={job_id}:{step_id}", "{prompt_file}", "{artifacts_dir}", "{unknown}"), Map.of("K", "v"), 0);
        Invocation inv = AgentLaunch.invocation(def, ctx, "prompt");
        assertThat(inv.argv()).containsExactly("run", "/w/j1/x", "--job=j1:s1", "/a/steps/s1/prompt.txt", "/a", "{unknown}");
        assertThat(inv.env()).containsEntry("K", "v");
        assertThat(inv.stdin()).isNull();
    }

    @Test
    void cli_agents_run_headless_with_the_prompt_on_stdin_or_in_a_file() {
        Invocation claude = AgentLaunch.invocation(new AgentDefinition("c", "claude", null, List.of("--model", "m"), List.of(), Map.of(), 0), ctx, "p");
        assertThat(claude.argv()).containsExactly("claude", "-p", "--output-format", "stream-json", "--verbose", "--model", "m");
        assertThat(claude.stdin()).isEqualTo(ctx.promptFile());
        Invocation codex = AgentLaunch.invocation(AgentDefinition.builtIn("codex"), ctx, "p");
        assertThat(codex.argv()).containsExactly("codex", "exec", "--json", "--skip-git-repo-check", "-");
        Invocation aider = AgentLaunch.invocation(AgentDefinition.builtIn("aider"), ctx, "p");
        assertThat(aider.argv()).contains("--message-file", "/a/steps/s1/prompt.txt", "--no-auto-commits");
        assertThat(aider.stdin()).isNull();
    }

    @Test
    void cli_agents_simulate_unless_real_cli_is_enabled() {
        assertThat(AgentLaunch.simulates(AgentDefinition.builtIn("claude"), false)).isTrue();
        assertThat(AgentLaunch.simulates(AgentDefinition.builtIn("claude"), true)).isFalse();
        assertThat(AgentLaunch.simulates(AgentDefinition.builtIn("simulate"), true)).isTrue();
    }
}
