package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Step;
import orchestrator.core.store.JobView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PromptBuilderTest {
    @TempDir
    Path tmp;

    private static Step step(List<String> inputs) {
        return new Step("s2", "a", "implementer", "Do the step.", 60, 0, 0, 0, inputs, List.of(), null, null, null);
    }

    private static JobSpec spec(List<Map<String, Object>> context, String strategy, String handoff) {
        return new JobSpec("The goal.", null, List.of(step(List.of())), null, 0, null, null, null, null, null, null,
                handoff, context, strategy, null);
    }

    /** The prompt of a step with no earlier steps, the payload's context window as the conversation. */
    private static String build(JobSpec spec, Step step, Path root) throws IOException, PromptBuilder.RefusedInput {
        return PromptBuilder.build(spec, step, root, List.of(), new Conversation(spec), false);
    }

    private static List<Map<String, Object>> messages(int n, int size) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            out.add(Map.of("role", i % 2 == 0 ? "assistant" : "user", "content", "m" + i + " " + "x".repeat(size)));
        }
        return out;
    }

    @Test
    void prompt_then_goal_then_context_by_strategy() throws Exception {
        Files.createDirectories(tmp);
        String full = build(spec(messages(5, 10), "full", "manual"), step(List.of()), tmp);
        assertThat(full).startsWith("Do the step.\n\n## Goal\n\nThe goal.\n");
        assertThat(full.indexOf("[user] m1")).isGreaterThan(full.indexOf("The goal."));
        assertThat(full).contains("[user] m1", "[assistant] m2", "[user] m5");

        String summary = build(spec(messages(6, 10), "summarize", "manual"), step(List.of()), tmp);
        assertThat(summary).contains("[user] m1 ", "[assistant] m6 ", "[4 messages left out]").doesNotContain("m3 ");

        // each message ~10 KiB: only the newest three fit 32 KiB
        String sliding = build(spec(messages(10, 10_000), "sliding", "manual"), step(List.of()), tmp);
        assertThat(sliding).contains("[7 earlier messages left out]", "m8 ", "m9 ", "m10 ").doesNotContain("m7 ");
        assertThat(sliding.length()).isLessThan(Conversation.CHAR_BUDGET + 1000);
    }

    @Test
    void input_artifacts_are_capped_each_and_in_total_and_missing_ones_noted() throws Exception {
        Path plan = Files.createDirectories(tmp.resolve("steps/01_plan"));
        Files.writeString(plan.resolve("report.md"), "# Plan\nstep one\n");
        List<String> inputs = new ArrayList<>(List.of("steps/01_plan/report.md", "steps/none/report.md"));
        for (int i = 0; i < 5; i++) {
            Files.writeString(tmp.resolve("big" + i + ".txt"), "y".repeat(100 * 1024));
            inputs.add("big" + i + ".txt");
        }
        String p = build(spec(List.of(), "sliding", "manual"), step(inputs), tmp);
        assertThat(p).contains("### steps/01_plan/report.md\n\n```\n# Plan\nstep one\n```");
        assertThat(p).contains("### steps/none/report.md\n\n(missing)");
        assertThat(p).contains("(truncated: 65536 of 102400 bytes shown)");
        assertThat(p).contains("(left out: the input artifacts reached 256 KiB)");
        assertThat(p.length()).isLessThan(PromptBuilder.ARTIFACTS_TOTAL_CAP_BYTES + 4096);
    }

    @Test
    void the_prototypes_input_artifact_caps_set_how_much_and_how_many_files_are_inlined() throws Exception {
        List<String> inputs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Files.writeString(tmp.resolve("in" + i + ".txt"), "z".repeat(1000));
            inputs.add("in" + i + ".txt");
        }
        // MAX_INPUT_ARTIFACT_CHARS=300, MAX_INPUT_ARTIFACTS_CHARS=500, MAX_INPUT_ARTIFACTS_FILES=3
        RunnerConfig.Output caps = new RunnerConfig.Output(300, 500, 3, 1 << 20);
        String p = PromptBuilder.build(spec(List.of(), "sliding", "manual"), step(inputs), tmp, List.of(),
                new Conversation(spec(List.of(), "sliding", "manual")), false, caps);
        assertThat(p).contains("### in0.txt\n\n```\n" + "z".repeat(300) + "\n```\n(truncated: 300 of 1000 bytes shown)");
        assertThat(p).contains("### in1.txt\n\n```\n" + "z".repeat(200) + "\n```\n(truncated: 200 of 1000 bytes shown)");
        assertThat(p).contains("### in2.txt\n\n(left out: the input artifacts reached 500 bytes)");
        String few = PromptBuilder.build(spec(List.of(), "sliding", "manual"), step(inputs), tmp, List.of(),
                new Conversation(spec(List.of(), "sliding", "manual")), false, new RunnerConfig.Output(300, 10_000, 2, 1 << 20));
        assertThat(few).contains("### in1.txt\n\n```\n" + "z".repeat(300));
        assertThat(few).contains("### in2.txt\n\n(left out: MAX_INPUT_ARTIFACTS_FILES allows 2 input artifacts)");
        assertThat(few).contains("### in3.txt\n\n(left out: MAX_INPUT_ARTIFACTS_FILES allows 2 input artifacts)");
    }

    @Test
    void input_artifact_paths_leaving_the_folder_are_refused() throws IOException {
        Path outside = Files.writeString(Files.createDirectories(tmp.resolve("outside")).resolve("secret.txt"), "secret");
        Path root = Files.createDirectories(tmp.resolve("job"));
        Files.createSymbolicLink(root.resolve("link.txt"), outside);
        for (String bad : List.of("../outside/secret.txt", "/etc/passwd", "steps/../../outside/secret.txt", "link.txt")) {
            assertThatThrownBy(() -> build(spec(List.of(), "sliding", "manual"), step(List.of(bad)), root))
                    .as(bad).isInstanceOf(PromptBuilder.RefusedInput.class);
        }
    }

    @Test
    void patch_first_starts_each_step_from_the_base_plus_the_patches_it_names() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        String agents = "{\"a\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo from-a > a.txt\"]},"
                + "\"b\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"ls > {artifacts_dir}/seen-{step_id}.txt; echo from-b >> a.txt\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"artifact_handoff\": \"patch_first\", \"steps\": ["
                    + "{\"step_id\": \"s1\", \"agent\": \"a\", \"prompt\": \"make a\"},"
                    + "{\"step_id\": \"s2\", \"agent\": \"b\", \"prompt\": \"extend a\", \"apply_patches_from\": [\"s1\"], "
                    + "\"input_artifacts\": [\"steps/s1/report.md\"]},"
                    + "{\"step_id\": \"s3\", \"agent\": \"b\", \"prompt\": \"alone\", \"on_failure\": \"continue\"}]}");
            JobView v = f.awaitFinal(id, java.time.Duration.ofSeconds(30));
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);

            Path a = f.artifacts(id);
            assertThat(Files.readString(a.resolve("seen-s2.txt"))).contains("a.txt");
            assertThat(Files.readString(a.resolve("seen-s3.txt"))).doesNotContain("a.txt");
            String s2 = Files.readString(a.resolve("steps/s2/patch.diff"));
            assertThat(s2).contains("+from-b").doesNotContain("+from-a");
            String prompt = Files.readString(a.resolve("steps/s2/prompt.txt"));
            assertThat(prompt).startsWith("extend a").contains("## Goal", "### steps/s1/report.md", "# Step s1",
                    "## Patches of earlier steps", "+from-a");
        }
    }

    @Test
    void patch_first_patch_that_does_not_apply_fails_the_step_with_workspace() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        String agents = "{\"a\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo from-a > a.txt\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"artifact_handoff\": \"patch_first\", \"steps\": ["
                    + "{\"step_id\": \"s1\", \"agent\": \"a\", \"prompt\": \"p\"},"
                    + "{\"step_id\": \"s2\", \"agent\": \"a\", \"prompt\": \"p\", \"apply_patches_from\": [\"s1\", \"s1\"]}]}");
            JobView v = f.awaitFinal(id, java.time.Duration.ofSeconds(30));
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("workspace");
            assertThat(v.errorMessage()).contains("patch of step s1 does not apply");
        }
    }
}
