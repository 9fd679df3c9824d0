package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The default plan → implement → review pipeline hands its work forward, and the job's documents
 * (result.json per job and step, state.json, context.json) are the prototype's.
 */
class PipelineHandoffTest {
    static final Path REFERENCE = Path.of("../../shared/reference");
    private static final Duration FINISH = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    /** Command agents standing in for the three roles; the planner's and implementer's last lines are their final messages. */
    private static final String AGENTS = """
            {"planner": {"type": "command", "argv": ["sh", "-c", "echo 'PLAN: create hello.txt saying hi'"]},
             "implementer": {"type": "command", "argv": ["sh", "-c", "echo hi > hello.txt; echo 'implemented hello.txt'"]},
             "reviewer": {"type": "command", "argv": ["sh", "-c", "grep -c '^+hi$' {prompt_file}; echo 'reviewed: looks right'"]}}
            """;

    private RunnerFixture pipeline() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        return new RunnerFixture(tmp, AGENTS, Map.of("PROJECT_ALIASES", "proj=" + repo, "PLANNER_AGENT", "planner",
                "IMPLEMENTER_AGENT", "implementer", "REVIEWER_AGENT", "reviewer")).start();
    }

    @Test
    void default_pipeline_gives_the_implementer_the_plan_and_the_reviewer_both_reports_and_the_patch() throws Exception {
        try (RunnerFixture f = pipeline()) {
            String id = f.enqueue("{\"goal\": \"Say hi in hello.txt\", \"project_id\": \"proj\"}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            Path a = f.artifacts(id);

            String implement = Files.readString(a.resolve("steps/02_implement/prompt.txt"));
            assertThat(implement).contains("### steps/01_plan/report.md", "PLAN: create hello.txt saying hi");

            String review = Files.readString(a.resolve("steps/03_review/prompt.txt"));
            assertThat(review).contains("### steps/01_plan/report.md", "PLAN: create hello.txt saying hi",
                    "### steps/02_implement/report.md", "implemented hello.txt",
                    "### steps/02_implement/patch.diff", "+++ b/hello.txt", "+hi");
            // the reviewer's own process saw the patch in its prompt file
            assertThat(Files.readString(a.resolve("steps/03_review/logs.txt"))).startsWith("1\n");
            // each step's message joins the conversation the next steps are given
            assertThat(review).contains("## Conversation so far", "[assistant 01_plan] PLAN: create hello.txt",
                    "[assistant 02_implement] implemented hello.txt");
            assertThat(Files.readString(a.resolve("patch.diff"))).contains("+hi");
        }
    }

    @Test
    void state_json_and_context_json_follow_the_job_step_by_step() throws Exception {
        try (RunnerFixture f = pipeline()) {
            String id = f.enqueue("{\"goal\": \"Say hi\", \"project_id\": \"proj\", \"context_strategy\": \"summarize\","
                    + " \"context_window\": [{\"role\": \"user\", \"content\": \"first ask\"}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            Path a = f.artifacts(id);
            JsonNode state = Json.parse(Files.readString(a.resolve("state.json")));
            assertThat(state.get("status").asText()).isEqualTo("success");
            assertThat(state.get("current_step").isNull()).isTrue();
            assertThat(state.get("steps").toString())
                    .isEqualTo("{\"01_plan\":\"success\",\"02_implement\":\"success\",\"03_review\":\"success\"}");

            JsonNode context = Json.parse(Files.readString(a.resolve("context.json")));
            assertThat(context.get("context_strategy").asText()).isEqualTo("summarize");
            assertThat(context.get("context_window")).extracting(m -> m.path("content").asText()).containsExactly(
                    "first ask", "PLAN: create hello.txt saying hi", "implemented hello.txt", "reviewed: looks right");
            // summarize keeps the first and the newest message: what a fourth step would be given
            assertThat(context.get("next_step_context")).extracting(JsonNode::asText).containsExactly(
                    "[user] first ask", "[2 messages left out]", "[assistant 03_review] reviewed: looks right");
            String review = Files.readString(a.resolve("steps/03_review/prompt.txt"));
            assertThat(review).contains("[user] first ask", "[1 messages left out]", "[assistant 02_implement] implemented hello.txt");
        }
    }

    @Test
    void state_json_names_the_running_step_while_it_runs() throws Exception {
        String agents = "{\"slow\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"while [ ! -f {artifacts_dir}/go ]; do sleep 0.05; done\"]}}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"slow\", \"prompt\": \"p\"},"
                    + " {\"step_id\": \"s2\", \"agent\": \"slow\", \"prompt\": \"p\"}]}");
            f.awaitStepRunning(id, "s1");
            Path stateFile = f.artifacts(id).resolve("state.json");
            RunnerFixture.await("state.json to name s1 as running", () -> readState(stateFile).contains("\"current_step\" : \"s1\""), FINISH);
            JsonNode state = Json.parse(readState(stateFile));
            assertThat(state.get("status").asText()).isEqualTo("running");
            assertThat(state.get("steps").get("s1").asText()).isEqualTo("running");
            assertThat(state.get("steps").get("s2").asText()).isEqualTo("pending");
            Files.writeString(f.artifacts(id).resolve("go"), "");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
        }
    }

    private static String readState(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    void result_json_of_the_job_and_of_every_step_validate_against_the_prototype_schema() throws Exception {
        Path schemaFile = REFERENCE.resolve("result.schema.json");
        Assumptions.assumeTrue(Files.exists(schemaFile), "shared/reference is not beside this clone: " + schemaFile.toAbsolutePath().normalize());
        JsonSchema schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(Files.readString(schemaFile));
        String agents = AGENTS.replace("}}\n", "}, \"broken\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo no; exit 3\"]}}\n");
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo, "PLANNER_AGENT", "planner",
                "IMPLEMENTER_AGENT", "implementer", "REVIEWER_AGENT", "reviewer")).start()) {
            String ok = f.enqueue("{\"goal\": \"Say hi\", \"project_id\": \"proj\"}");
            String failed = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"broken\", \"prompt\": \"p\","
                    + " \"max_retries\": 0, \"on_failure\": \"continue\"}, {\"step_id\": \"s2\", \"agent\": \"broken\", \"prompt\": \"p\","
                    + " \"max_retries\": 0}]}");
            assertThat(f.awaitFinal(ok, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(f.awaitFinal(failed, FINISH).state()).isEqualTo(JobState.FAILED);
            for (String id : List.of(ok, failed)) {
                Path a = f.artifacts(id);
                JsonNode job = Json.parse(Files.readString(a.resolve("result.json")));
                assertThat(schema.validate(job)).as("%s result.json: %s", id, job).isEmpty();
                assertThat(job.get("kind").asText()).isEqualTo("job");
                for (JsonNode step : job.get("steps")) {
                    String sid = step.get("step_id").asText();
                    JsonNode own = Json.parse(Files.readString(a.resolve("steps").resolve(sid).resolve("result.json")));
                    assertThat(schema.validate(own)).as("%s steps/%s/result.json: %s", id, sid, own).isEmpty();
                    assertThat(own).isEqualTo(step);
                }
            }
            JsonNode bad = Json.parse(Files.readString(f.artifacts(failed).resolve("result.json")));
            assertThat(bad.get("status").asText()).isEqualTo("failed");
            assertThat(bad.get("error").get("code").asText()).isEqualTo("agent_exit_nonzero");
            assertThat(bad.get("steps").get(0).get("metrics").get("exit_code").asInt()).isEqualTo(3);
            JsonNode good = Json.parse(Files.readString(f.artifacts(ok).resolve("result.json")));
            assertThat(good.get("change_status").asText()).isEqualTo("changed");
            assertThat(good.get("steps").get(0).get("change_status").asText()).isEqualTo("no_changes");
            assertThat(good.get("summary").asText()).isEqualTo("reviewed: looks right");
        }
    }
}
