package orchestrator.core.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class ResultDocumentTest {
    private static final Path SCHEMA = Path.of("../../shared/reference/result.schema.json");
    private static final Instant START = Instant.parse("2026-12-01T10:00:00Z");
    private static final Instant END = Instant.parse("2026-12-01T10:05:00Z");

    private static JsonSchema schema() throws Exception {
        Assumptions.assumeTrue(Files.exists(SCHEMA), "shared/reference is not beside this clone: " + SCHEMA.toAbsolutePath().normalize());
        return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(Files.readString(SCHEMA));
    }

    @Test
    void a_job_that_never_ran_ends_with_its_error_and_no_steps_valid_against_the_prototype_schema() throws Exception {
        Map<String, Object> d = ResultDocument.ended("0123456789abcdef0123456789abcdef", JobState.CANCELLED, "cancelled",
                "cancelled by op", null, 1, null, END);
        assertThat(schema().validate(Json.parse(Json.write(d)))).as(d.toString()).isEmpty();
        assertThat(d).containsEntry("kind", "job").containsEntry("status", "cancelled").containsEntry("summary", "cancelled by op")
                .containsEntry("started_at", END.toString()).containsEntry("finished_at", END.toString())
                .containsEntry("error", Map.of("code", "cancelled", "message", "cancelled by op"))
                .containsEntry("steps", List.of());
    }

    @Test
    void a_job_ended_after_a_run_keeps_its_steps_and_figures_and_says_how_it_ended() throws Exception {
        Map<String, Object> step = new java.util.LinkedHashMap<>();
        step.put("schema_version", "1.0");
        step.put("kind", "step");
        step.put("job_id", "0123456789abcdef0123456789abcdef");
        step.put("step_id", "01_plan");
        step.put("agent", "claude");
        step.put("role", "planner");
        step.put("status", "needs_human");
        step.put("started_at", START.toString());
        step.put("finished_at", START.plusSeconds(60).toString());
        step.put("summary", "which one?");
        step.put("artifacts", ResultDocument.artifacts("steps/01_plan/"));
        Map<String, Object> earlier = Map.of("schema_version", "1.0", "kind", "job", "status", "needs_human",
                "started_at", START.toString(), "summary", "which one?", "change_status", "no_changes",
                "artifacts", ResultDocument.artifacts(""), "metrics", Map.of("cost_usd", 0.5, "state", "needs_human"),
                "steps", List.of(step));
        Map<String, Object> d = ResultDocument.ended("0123456789abcdef0123456789abcdef", JobState.FAILED, "lease_lost",
                "lost its lease 3 times", earlier, 3, START.plusSeconds(1), END);
        assertThat(schema().validate(Json.parse(Json.write(d)))).as(d.toString()).isEmpty();
        assertThat(d).containsEntry("status", "failed").containsEntry("attempts", 3).containsEntry("started_at", START.toString())
                .containsEntry("finished_at", END.toString()).containsEntry("change_status", "no_changes")
                .containsEntry("steps", List.of(step)).containsEntry("metrics", Map.of("cost_usd", 0.5, "state", "failed"));
    }

    @Test
    void the_prototype_status_words() {
        assertThat(ResultDocument.status(JobState.SUCCEEDED, null)).isEqualTo("success");
        assertThat(ResultDocument.status(JobState.FAILED, "idle_timeout")).isEqualTo("timeout");
        assertThat(ResultDocument.status(JobState.FAILED, "lease_lost")).isEqualTo("failed");
        assertThat(ResultDocument.status(JobState.CANCELLED, "cancelled")).isEqualTo("cancelled");
        assertThatThrownBy(() -> ResultDocument.ended("j", JobState.NEEDS_HUMAN, "ask_human", "m", null, 1, null, END))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs_human");
    }
}
