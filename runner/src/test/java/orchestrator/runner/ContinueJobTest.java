package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.JobView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code continue}: a follow-up step of a finished job, in the same workspace, beside the first run's artifacts. */
class ContinueJobTest {
    private static final Duration FINISH = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    /** An agent that appends its prompt's first line to notes.txt, so each run's work shows in the workspace. */
    private static final String AGENTS = "{\"writer\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\","
            + " \"head -n 1 {prompt_file} >> notes.txt; echo wrote: $(head -n 1 {prompt_file})\"]}}";

    @Test
    void continued_job_runs_a_follow_up_in_the_same_workspace_and_its_result_lists_every_run() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        try (RunnerFixture f = new RunnerFixture(tmp, AGENTS, Map.of("PROJECT_ALIASES", "proj=" + repo)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"writer\","
                    + " \"prompt\": \"first note\"}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);

            ActionResult r = f.store.continueJob(id, "second note", "test");
            assertThat(r.kind()).isEqualTo(ActionResult.Kind.DONE);
            JobView v = f.awaitJob(id, j -> j.state().isFinal() && j.steps().size() == 2, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);

            Path ws = f.core.workspacesDir().resolve(id);
            assertThat(Files.readString(ws.resolve("notes.txt"))).isEqualTo("first note\nsecond note\n");
            Path a = f.artifacts(id);
            // beside the first run's artifacts
            assertThat(a.resolve("steps/s1/result.json")).exists();
            assertThat(Files.readString(a.resolve("steps/continue_1/patch.diff"))).contains("+second note").doesNotContain("+first note");
            // a command agent cannot resume a session: its prompt carries the earlier run's report instead
            String prompt = Files.readString(a.resolve("steps/continue_1/prompt.txt"));
            assertThat(prompt).startsWith("second note").contains("## The earlier run (step s1)", "wrote: first note");

            JsonNode result = Json.parse(Files.readString(a.resolve("result.json")));
            assertThat(result.get("steps")).extracting(s -> s.get("step_id").asText()).containsExactly("s1", "continue_1");
            assertThat(result.get("summary").asText()).isEqualTo("wrote: second note");
            // the job's patch is still measured from where the job started
            assertThat(Files.readString(a.resolve("patch.diff"))).contains("+first note", "+second note");
            assertThat(Files.readString(a.resolve("logs.txt"))).contains("===== step s1", "===== step continue_1");
            assertThat(Json.parse(Files.readString(a.resolve("state.json"))).get("steps").toString())
                    .isEqualTo("{\"s1\":\"success\",\"continue_1\":\"success\"}");
            assertThat(f.store.continueJob(id, "third", "test").kind()).isEqualTo(ActionResult.Kind.DONE);
            JobView third = f.awaitJob(id, j -> j.state().isFinal() && j.steps().size() == 3, FINISH);
            assertThat(third.spec().step("continue_2").continues()).isEqualTo("continue_1");
        }
    }

    @Test
    void a_session_the_cli_cannot_resume_goes_on_in_a_fresh_session_with_the_earlier_report() throws Exception {
        // a claude-shaped CLI that knows no earlier session: --resume fails as the real one does for an unknown id
        Path fake = Files.writeString(tmp.resolve("fake-claude"), String.join("\n", "#!/bin/sh",
                "case \" $* \" in *\" --resume \"*) echo 'No conversation found with session ID' >&2; exit 1;; esac",
                "cat > /dev/null",
                "echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"sess-1\"}'",
                "echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\",\"num_turns\":1,"
                        + "\"session_id\":\"sess-1\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}'", ""));
        fake.toFile().setExecutable(true);
        String agents = Json.write(Map.of("c", Map.of("type", "claude", "binary", fake.toString())));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("ENABLE_REAL_CLI", "1")).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"c\", \"prompt\": \"first\","
                    + " \"max_retries\": 0}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            f.store.continueJob(id, "second", "test");
            JobView v = f.awaitJob(id, j -> j.state().isFinal() && j.steps().size() == 2, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            Path a = f.artifacts(id);
            assertThat(StepOutcome.read(a, "continue_1").raw().get("attempts").asInt()).isEqualTo(2);
            assertThat(Files.readString(a.resolve("steps/continue_1/logs.txt"))).contains("No conversation found");
            assertThat(Files.readString(a.resolve("steps/continue_1/prompt.txt"))).startsWith("second").contains("## The earlier run (step s1)");
        }
    }
}
