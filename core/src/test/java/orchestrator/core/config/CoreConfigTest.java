package orchestrator.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoreConfigTest {
    @TempDir
    Path dir;

    @Test
    void defaults_put_everything_under_orch_home() {
        CoreConfig c = CoreConfig.from(new Env(Map.of("ORCH_HOME", dir.toString())));
        assertThat(c.databasePath()).isEqualTo(dir.resolve("orchestrator.db"));
        assertThat(c.artifactsDir()).isEqualTo(dir.resolve("artifacts"));
        assertThat(c.leaseTtl().toSeconds()).isEqualTo(CoreConfig.DEFAULT_LEASE_TTL_SEC);
        assertThat(c.agents().names()).contains("claude", "codex", "opencode", "gemini", "aider", "simulate");
        assertThat(c.agents().realCli()).isFalse();
    }

    @Test
    void the_prototypes_folder_and_database_variables_move_artifacts_workspaces_and_the_store() {
        CoreConfig c = CoreConfig.from(new Env(Map.of("ORCH_HOME", dir.toString(), "ARTIFACTS_ROOT", dir.resolve("a").toString(),
                "WORKSPACES_ROOT", dir.resolve("w").toString(), "STATE_DB_PATH", dir.resolve("state/orch.db").toString())));
        assertThat(c.artifactsDir()).isEqualTo(dir.resolve("a"));
        assertThat(c.workspacesDir()).isEqualTo(dir.resolve("w"));
        assertThat(c.databasePath()).isEqualTo(dir.resolve("state/orch.db"));
        CoreConfig both = CoreConfig.from(new Env(Map.of("STATE_DB_PATH", "/tmp/x.db", "DATABASE_URL", "sqlite:" + dir.resolve("d.db"))));
        assertThat(both.databasePath()).as("DATABASE_URL wins over the prototype's name").isEqualTo(dir.resolve("d.db"));
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("DEFAULT_ARTIFACT_HANDOFF", "email")))).hasMessageStartingWith("DEFAULT_ARTIFACT_HANDOFF:");
        assertThat(CoreConfig.from(new Env(Map.of("DEFAULT_ARTIFACT_HANDOFF", "workspace_first"))).agents().pipeline().artifactHandoff())
                .isEqualTo("workspace_first");
    }

    @Test
    void prototype_variables_without_effect_are_named_in_one_warning_with_the_reason_and_not_counted_as_read() {
        Env env = new Env(Map.of("QUEUE_ROOT", "./var/queue", "SANDBOX_CLEAR_ENV", "1", "ORCH_HOME", dir.toString()));
        String warning = PrototypeNames.warning(env);
        assertThat(warning).contains("QUEUE_ROOT, SANDBOX_CLEAR_ENV have no effect").contains("jobs table").contains("ENV_ALLOWLIST");
        assertThat(env.namesRead()).doesNotContain("QUEUE_ROOT", "SANDBOX_CLEAR_ENV");
        assertThat(PrototypeNames.warning(new Env(Map.of()))).isNull();
    }

    @Test
    void each_value_knows_whether_it_came_from_the_file_the_environment_or_the_default() {
        Env env = new Env(Map.of("HTTP_PORT", "9000", "LOG_LEVEL", "DEBUG"), Map.of("LOG_LEVEL", "WARN"));
        assertThat(env.source("HTTP_PORT")).isEqualTo(Env.Source.FILE);
        assertThat(env.source("LOG_LEVEL")).isEqualTo(Env.Source.ENV);
        assertThat(env.get("LOG_LEVEL")).isEqualTo("WARN");
        assertThat(env.source("LEASE_TTL_SEC")).isEqualTo(Env.Source.DEFAULT);
        CoreConfig.from(env);
        assertThat(env.defaultOf("LEASE_TTL_SEC")).isEqualTo("30");
    }

    @Test
    void project_aliases_keep_the_reference_format() {
        CoreConfig c = CoreConfig.from(new Env(Map.of("PROJECT_ALIASES", "proj1=/srv/repos/proj1, proj2=/srv/repos/proj2")));
        assertThat(c.projects()).containsExactly(Map.entry("proj1", Path.of("/srv/repos/proj1")), Map.entry("proj2", Path.of("/srv/repos/proj2")));
    }

    @Test
    void bad_values_fail_naming_the_variable() {
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("LEASE_TTL_SEC", "soon")))).hasMessageStartingWith("LEASE_TTL_SEC:");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("LEASE_TTL_SEC", "1")))).hasMessageStartingWith("LEASE_TTL_SEC:");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("ENABLE_REAL_CLI", "perhaps")))).hasMessageStartingWith("ENABLE_REAL_CLI:");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("PROJECT_ALIASES", "noequals")))).hasMessageStartingWith("PROJECT_ALIASES:");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("DATABASE_URL", "mysql://x")))).hasMessageStartingWith("DATABASE_URL:");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("IMPLEMENTER_AGENT", "nobody")))).hasMessageStartingWith("IMPLEMENTER_AGENT:");
    }

    @Test
    void agents_file_adds_command_agents_and_rejects_bad_ones() throws Exception {
        Path f = dir.resolve("agents.json");
        Files.writeString(f, "{\"lint\":{\"type\":\"command\",\"argv\":[\"sh\",\"-c\",\"make lint > {artifacts_dir}/lint.txt\"]},"
                + "\"claude-fast\":{\"type\":\"claude\",\"args\":[\"--model\",\"haiku\"]}}");
        CoreConfig c = CoreConfig.from(new Env(Map.of("AGENTS_FILE", f.toString())));
        assertThat(c.agents().get("lint").argv()).hasSize(3);
        assertThat(c.agents().get("claude-fast").binary()).isEqualTo("claude");
        assertThat(c.agents().parser().parse(orchestrator.core.Json.parse(
                "{\"goal\":\"g\",\"steps\":[{\"step_id\":\"l\",\"agent\":\"lint\",\"prompt\":\"p\"}]}")).steps()).hasSize(1);

        Files.writeString(f, "{\"bad\":{\"type\":\"command\"}}");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("AGENTS_FILE", f.toString()))))
                .hasMessageStartingWith("AGENTS_FILE:").hasMessageContaining("argv");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("AGENTS_FILE", dir.resolve("missing.json").toString()))))
                .hasMessageStartingWith("AGENTS_FILE:");
    }

    @Test
    void env_file_is_read_and_environment_wins() throws Exception {
        Path f = dir.resolve("orchestrator.env");
        Files.writeString(f, "# comment\nexport HTTP_PORT=9000\nLOG_LEVEL=\"DEBUG\"\n\n");
        assertThat(Env.parseFile(f)).containsEntry("HTTP_PORT", "9000").containsEntry("LOG_LEVEL", "DEBUG");
        Files.writeString(f, "JUSTAWORD\n");
        assertThatThrownBy(() -> Env.parseFile(f)).hasMessageContaining("line 1");
    }
}
