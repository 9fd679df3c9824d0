package orchestrator.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PostgresUrlTest {
    @Test
    void the_operator_form_is_taken_apart_for_the_driver_and_named_without_its_password() {
        PostgresUrl u = PostgresUrl.parse("DATABASE_URL", "postgresql://orch:p%40ss:w0rd@db.example.com:6432/jobs?sslmode=require");
        assertThat(u.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example.com:6432/jobs?sslmode=require");
        assertThat(u.user()).isEqualTo("orch");
        assertThat(u.password()).isEqualTo("p@ss:w0rd");
        assertThat(u.where()).isEqualTo("db.example.com:6432/jobs");
        assertThat(u.toString()).isEqualTo("postgresql://orch@db.example.com:6432/jobs").doesNotContain("w0rd");
        assertThat(PostgresUrl.parse("X", "postgres://db/jobs").where()).isEqualTo("db:5432/jobs");
        assertThat(PostgresUrl.parse("X", "postgres://db/jobs").user()).isNull();
    }

    @Test
    void the_jdbc_form_gives_up_user_and_password_parameters() {
        PostgresUrl u = PostgresUrl.parse("DATABASE_URL", "jdbc:postgresql://127.0.0.1:5433/t?user=orch&password=s3cr3t&ssl=true");
        assertThat(u.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:5433/t?ssl=true");
        assertThat(u.user()).isEqualTo("orch");
        assertThat(u.password()).isEqualTo("s3cr3t");
    }

    @Test
    void a_url_without_host_or_database_is_refused_naming_the_variable_not_the_value() {
        assertThatThrownBy(() -> PostgresUrl.parse("--to", "postgresql://orch:s3cr3t@db")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("--to").hasMessageNotContaining("s3cr3t");
        assertThatThrownBy(() -> PostgresUrl.parse("--to", "mysql://x/y")).hasMessageContaining("postgresql://");
    }
}
