package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** `config check` shows DATABASE_URL with its host and database but never its password, in any of its forms. */
class DatabaseUrlMaskTest {
    @Test
    void user_info_and_password_parameters_are_masked_and_the_rest_stays_readable() {
        assertThat(ConfigCommand.shown("DATABASE_URL", "postgresql://orch:hunter2@db:5432/jobs?sslmode=require", java.util.Set.of()))
                .isEqualTo("postgresql://****@db:5432/jobs?sslmode=require");
        assertThat(ConfigCommand.shown("DATABASE_URL", "jdbc:postgresql://db/jobs?user=orch&password=hunter2&sslmode=require", java.util.Set.of()))
                .isEqualTo("jdbc:postgresql://db/jobs?user=orch&password=****&sslmode=require");
        assertThat(ConfigCommand.shown("DATABASE_URL", "jdbc:postgresql://db/jobs?password=hunter2", java.util.Set.of())).doesNotContain("hunter2");
        assertThat(ConfigCommand.shown("DATABASE_URL", "sqlite:/var/lib/orchestrator/orchestrator.db", java.util.Set.of()))
                .isEqualTo("sqlite:/var/lib/orchestrator/orchestrator.db");
    }
}
