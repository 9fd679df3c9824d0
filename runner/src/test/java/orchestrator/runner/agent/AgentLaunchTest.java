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
        Invocation inv = AgentLaunch.invocation(def, ctx, StepOptions.NONE);
        assertThat(inv.argv()).containsExactly("run", "/w/j1/x", "--job=j1:s1", "/a/steps/s1/prompt.txt", "/a", "{unknown}");
        assertThat(inv.env()).containsEntry("K", "v");
        assertThat(inv.stdin()).isNull();
    }

    @Test
    void cli_agents_run_headless_with_the_prompt_on_stdin_or_in_a_file() {
        Invocation claude = AgentLaunch.invocation(new AgentDefinition("c", "claude", null, List.of("--model", "m"), List.of(), Map.of(), 0), ctx, StepOptions.NONE);
        assertThat(claude.argv()).containsExactly("claude", "-p", "--output-format", "stream-json", "--verbose",
                "--permission-mode", "acceptEdits", "--model", "m");
        assertThat(claude.stdin()).isEqualTo(ctx.promptFile());
        Invocation codex = AgentLaunch.invocation(AgentDefinition.builtIn("codex"), ctx, StepOptions.NONE);
        assertThat(codex.argv()).containsExactly("codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write", "-");
        assertThat(codex.stdin()).isEqualTo(ctx.promptFile());
        Invocation opencode = AgentLaunch.invocation(AgentDefinition.builtIn("opencode"), ctx, StepOptions.NONE);
        assertThat(opencode.argv()).containsExactly("opencode", "run", "--format", "json", "--print-logs", "--log-level", "ERROR", "--title", "j1/s1");
        assertThat(opencode.stdin()).isEqualTo(ctx.promptFile());
        Invocation gemini = AgentLaunch.invocation(AgentDefinition.builtIn("gemini"), ctx, StepOptions.NONE);
        assertThat(gemini.argv()).containsExactly("gemini", "--output-format", "stream-json", "--skip-trust", "-p",
                "Carry out the task described above.", "--approval-mode", "auto_edit");
        assertThat(gemini.stdin()).isEqualTo(ctx.promptFile());
        Invocation aider = AgentLaunch.invocation(AgentDefinition.builtIn("aider"), ctx, StepOptions.NONE);
        assertThat(aider.argv()).containsExactly("aider", "--message-file", "/a/steps/s1/prompt.txt", "--yes-always", "--no-auto-commits");
        assertThat(aider.stdin()).isNull();
    }

    @Test
    void allowed_tools_and_turns_left_reach_the_clis_that_take_them_after_the_operators_args() {
        StepOptions opts = new StepOptions(List.of("Read", "Bash(git diff:*)"), 7);
        Invocation claude = AgentLaunch.invocation(new AgentDefinition("c", "claude", "/opt/claude", List.of("--model", "m"), List.of(), Map.of(), 0), ctx, opts);
        assertThat(claude.argv()).containsExactly("/opt/claude", "-p", "--output-format", "stream-json", "--verbose",
                "--max-turns", "7", "--permission-mode", "acceptEdits", "--model", "m", "--allowedTools", "Read,Bash(git diff:*)");
        Invocation gemini = AgentLaunch.invocation(AgentDefinition.builtIn("gemini"), ctx, opts);
        // one comma-separated value: gemini's option takes one, a second word would be a positional prompt
        assertThat(gemini.argv()).endsWith("--allowed-tools", "Read,Bash(git diff:*)");
        Invocation codex = AgentLaunch.invocation(new AgentDefinition("x", "codex", null, List.of("-s", "read-only"), List.of(), Map.of(), 0), ctx, opts);
        assertThat(codex.argv()).containsExactly("codex", "exec", "--json", "--skip-git-repo-check", "-s", "read-only", "-");
    }

    @Test
    void cli_agents_simulate_unless_real_cli_is_enabled() {
        assertThat(AgentLaunch.simulates(AgentDefinition.builtIn("claude"), false)).isTrue();
        assertThat(AgentLaunch.simulates(AgentDefinition.builtIn("claude"), true)).isFalse();
        assertThat(AgentLaunch.simulates(AgentDefinition.builtIn("simulate"), true)).isTrue();
    }
}
