package orchestrator.core.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import orchestrator.core.Json;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class JobSpecParserTest {
    /**
     * The Python prototype's files, beside the repository (its README asks that they are not copied in).
     * CI has shared/ beside the clone; elsewhere the tests reading them are skipped, saying why.
     */
    static final Path REFERENCE = Path.of("../../shared/reference");

    private static String reference(String name) throws java.io.IOException {
        Path f = REFERENCE.resolve(name);
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(f), "shared/reference is not beside this clone: " + f.toAbsolutePath().normalize());
        return Files.readString(f);
    }

    private final JobSpecParser parser = new JobSpecParser(Set.of("claude", "codex", "simulate", "lint"),
            new JobSpecParser.DefaultPipeline("claude", "codex", "claude"));

    @Test
    void reference_webhook_payload_is_accepted_unchanged_with_the_default_pipeline() throws Exception {
        JobSpec spec = parser.parse(Json.parse(reference("webhook_payload.simple.json")));
        assertThat(spec.goal()).startsWith("Webhook-triggered job");
        assertThat(spec.tags()).containsExactly("webhook", "example");
        assertThat(spec.metadata()).containsEntry("source", "curl");
        assertThat(spec.workdir()).isEqualTo(".");
        assertThat(spec.policy().allowedBinaries()).containsExactly("opencode", "codex", "claude");
        assertThat(spec.steps()).extracting(Step::stepId, Step::agent, Step::role).containsExactly(
                org.assertj.core.groups.Tuple.tuple("01_plan", "claude", "planner"),
                org.assertj.core.groups.Tuple.tuple("02_implement", "codex", "implementer"),
                org.assertj.core.groups.Tuple.tuple("03_review", "claude", "reviewer"));
        assertThat(spec.artifactHandoff()).isEqualTo("manual");
        assertThat(spec.contextStrategy()).isEqualTo("sliding");
    }

    @Test
    void unknown_top_level_fields_are_accepted_and_listed_as_ignored_like_the_prototype_did() {
        var payload = Json.parse("{\"goal\":\"g\",\"stepz\":[],\"workdir\":\".\",\"owner\":\"ci\",\"tags\":[\"a\"]}");
        JobSpec spec = parser.parse(payload);
        assertThat(spec.tags()).containsExactly("a");
        assertThat(JobSpecParser.ignoredFields(payload)).containsExactly("stepz", "workdir", "owner");
    }

    @Test
    void empty_project_id_means_no_project() {
        assertThat(parser.parse(Json.parse("{\"goal\":\"g\",\"project_id\":\"\"}")).project()).isNull();
        assertThat(parser.parse(Json.parse("{\"goal\":\"g\",\"project\":\"\"}")).project()).isNull();
        assertThat(parser.parse(Json.parse("{\"goal\":\"g\",\"project_id\":\"\",\"project\":\"p1\"}")).project()).isEqualTo("p1");
    }

    @Test
    void a_payload_without_artifact_handoff_gets_the_configured_default() {
        JobSpecParser patchFirst = new JobSpecParser(Set.of("claude", "codex"),
                new JobSpecParser.DefaultPipeline("claude", "codex", "claude", "patch_first"));
        assertThat(patchFirst.parse(Json.parse("{\"goal\":\"g\"}")).artifactHandoff()).isEqualTo("patch_first");
        assertThat(patchFirst.parse(Json.parse("{\"goal\":\"g\",\"artifact_handoff\":\"manual\"}")).artifactHandoff()).isEqualTo("manual");
    }

    @Test
    void reference_schedule_payload_is_accepted_unchanged() throws Exception {
        var schedule = Json.parse(reference("schedule.every_minute.json"));
        JobSpec spec = parser.parse(schedule.get("payload"));
        assertThat(spec.tags()).containsExactly("cron", "example");
    }

    @Test
    void explicit_steps_keep_their_fields_and_defaults_are_filled() {
        JobSpec spec = parser.parse(Json.parse("""
                {"goal":"g","project_id":"proj1","priority":3,"concurrency_key":"repo",
                 "steps":[{"step_id":"a","agent":"lint","role":"linter","prompt":"p","timeout_sec":30,
                           "on_failure":"goto:b","limits":{"memory_mb":512}},
                          {"step_id":"b","agent":"claude","prompt":"q","allowed_tools":["Read"]}],
                 "policy":{"sandbox":true,"network":"allow","allowed_binaries":[],"budget":{"max_cost_usd":1.5,"max_turns":4}}}
                """));
        assertThat(spec.project()).isEqualTo("proj1");
        assertThat(spec.priority()).isEqualTo(3);
        Step a = spec.steps().get(0);
        assertThat(a.timeoutSec()).isEqualTo(30);
        assertThat(a.onFailure()).isEqualTo("goto:b");
        assertThat(a.limits().memoryMb()).isEqualTo(512L);
        Step b = spec.steps().get(1);
        assertThat(b.timeoutSec()).isEqualTo(JobSpecParser.DEFAULT_TIMEOUT_SEC);
        assertThat(b.maxRetries()).isEqualTo(1);
        assertThat(b.allowedTools()).containsExactly("Read");
        assertThat(spec.policy().network()).isEqualTo("allow");
        assertThat(spec.policy().budget().maxTurns()).isEqualTo(4);
        // the stored form reads back equal: what the runner executes is what was accepted
        assertThat(Json.read(Json.write(spec), JobSpec.class)).isEqualTo(spec);
        assertThat(Json.read(Json.writeCompact(spec), JobSpec.class)).isEqualTo(spec);
        JobSpec noTools = parser.parse(Json.parse("{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\",\"allowed_tools\":[]}]}"));
        assertThat(Json.read(Json.writeCompact(noTools), JobSpec.class).steps().get(0).allowedTools()).as("no tools is not any tool").isEmpty();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "{}                                                         | goal",
            "{\"goal\":\"\"}                                            | goal",
            "{\"goal\":5}                                               | goal",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\",\"timeout\":5}]} | steps[0].timeout",
            "{\"goal\":\"g\",\"policy\":{\"sandbx\":false}}           | policy.sandbx",
            "{\"goal\":\"g\",\"project_id\":\"../etc\"}                 | project_id",
            "{\"goal\":\"g\",\"steps\":[]}                              | steps",
            "{\"goal\":\"g\",\"steps\":{}}                              | steps",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"rm\",\"prompt\":\"p\"}]}  | steps[0].agent",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\"}]}               | steps[0].prompt",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a b\",\"agent\":\"claude\",\"prompt\":\"p\"}]} | steps[0].step_id",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\",\"timeout_sec\":0}]} | steps[0].timeout_sec",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\",\"timeout_sec\":\"9\"}]} | steps[0].timeout_sec",
            "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\",\"on_failure\":\"explode\"}]} | steps[0].on_failure",
            "{\"goal\":\"g\",\"policy\":{\"network\":\"maybe\"}}         | policy.network",
            "{\"goal\":\"g\",\"policy\":{\"sandbox\":\"yes\"}}           | policy.sandbox",
            "{\"goal\":\"g\",\"policy\":{\"limits\":{\"cpu_sec\":-1}}}   | policy.limits.cpu_sec",
            "{\"goal\":\"g\",\"tags\":[1]}                               | tags[0]",
            "{\"goal\":\"g\",\"callback_url\":\"file:///etc/passwd\"}    | callback_url",
            "{\"goal\":\"g\",\"artifact_handoff\":\"email\"}             | artifact_handoff",
            "{\"goal\":\"g\",\"run_at\":\"tomorrow\"}                    | run_at",
            "{\"goal\":\"g\",\"run_at\":\"-999999999-01-01T00:00:00Z\"}  | run_at",
            "{\"goal\":\"g\",\"run_at\":\"+999999999-12-31T23:59:59Z\"}  | run_at",
            "[1,2]                                                      | object",
    })
    void invalid_payload_error_names_the_field(String payload, String field) {
        assertThatThrownBy(() -> parser.parse(Json.parse(payload)))
                .isInstanceOf(InvalidJobException.class)
                .hasMessageContaining(field);
    }

    @Test
    void duplicate_step_ids_and_dangling_goto_are_refused() {
        assertThatThrownBy(() -> parser.parse(Json.parse("{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\"},{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\"}]}")))
                .isInstanceOf(InvalidJobException.class).hasMessageContaining("used twice");
        assertThatThrownBy(() -> parser.parse(Json.parse("{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\",\"on_failure\":\"goto:zz\"}]}")))
                .isInstanceOf(InvalidJobException.class).hasMessageContaining("zz");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "../../0123456789abcdef0123456789abcdef/steps/s1",
            "b",
            "a/../../x",
            "zz",
    })
    void apply_patches_from_must_name_an_earlier_step_of_the_same_job(String from) {
        String payload = "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\"},"
                + "{\"step_id\":\"b\",\"agent\":\"claude\",\"prompt\":\"p\",\"apply_patches_from\":[\"" + from + "\"]}]}";
        assertThatThrownBy(() -> parser.parse(Json.parse(payload)))
                .isInstanceOf(InvalidJobException.class)
                .hasMessageContaining("steps[1].apply_patches_from[0]").hasMessageContaining("earlier step");
        String ok = payload.replace("[\"" + from + "\"]", "[\"a\"]");
        assertThat(parser.parse(Json.parse(ok)).steps().get(1).applyPatchesFrom()).containsExactly("a");
    }

    @Test
    void default_pipeline_hands_the_plan_to_the_implementer_and_both_reports_and_the_patch_to_the_reviewer() {
        JobSpec spec = parser.parse(Json.parse("{\"goal\":\"Add a health check\"}"));
        assertThat(spec.steps()).extracting(Step::inputArtifacts).containsExactly(
                List.of(),
                List.of("steps/01_plan/report.md"),
                List.of("steps/01_plan/report.md", "steps/02_implement/report.md", "steps/02_implement/patch.diff"));
        assertThat(spec.steps()).allSatisfy(st -> assertThat(st.prompt()).contains("Add a health check"));
    }

    @Test
    void idempotency_key_header_wins_over_the_body_field() {
        JobSpec spec = parser.parse(Json.parse("{\"goal\":\"g\",\"idempotency_key\":\"body\"}"), "header");
        assertThat(spec.idempotencyKey()).isEqualTo("header");
        assertThat(parser.parse(Json.parse("{\"goal\":\"g\",\"idempotency_key\":\"body\"}")).idempotencyKey()).isEqualTo("body");
    }

    @Test
    void a_nul_character_anywhere_is_refused_with_its_field_named_on_both_stores_alike() {
        assertThatThrownBy(() -> parser.parse(Json.parse("{\"goal\":\"fix \\u0000 it\"}")))
                .isInstanceOf(InvalidJobException.class).hasMessageContaining("goal").hasMessageContaining("NUL");
        assertThatThrownBy(() -> parser.parse(Json.parse(
                "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\\u0000\"}]}")))
                .isInstanceOf(InvalidJobException.class).hasMessageContaining("steps[0].prompt");
        assertThatThrownBy(() -> parser.parse(Json.parse("{\"goal\":\"g\",\"metadata\":{\"a\":{\"b\":[\"x\",\"\\u0000\"]}}}")))
                .isInstanceOf(InvalidJobException.class).hasMessageContaining("metadata.a.b[1]");
        assertThatThrownBy(() -> parser.parse(Json.parse("{\"goal\":\"g\",\"metadata\":{\"k\\u0000\":1}}")))
                .isInstanceOf(InvalidJobException.class).hasMessageContaining("metadata").hasMessageContaining("field name");
        // other control characters are text like any other
        assertThat(parser.parse(Json.parse("{\"goal\":\"tab\\tand\\u0001\"}")).goal()).isEqualTo("tab\tand\u0001");
    }
}
