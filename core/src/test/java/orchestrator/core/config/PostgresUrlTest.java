package orchestrator.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class PostgresUrlTest {
    @Test
    void the_operators_url_is_taken_apart_and_the_jdbc_url_carries_no_credentials() {
        PostgresUrl u = PostgresUrl.parse("postgresql://orch:p%40ss%2Fw0rd+x@db.internal:5433/jobs?sslmode=require&connectTimeout=3");
        assertThat(u.user()).isEqualTo("orch");
        assertThat(u.password()).as("percent-decoded; '+' stays").isEqualTo("p@ss/w0rd+x");
        assertThat(u.jdbcUrl()).isEqualTo("jdbc:postgresql://db.internal:5433/jobs?sslmode=require&connectTimeout=3");
        assertThat(u.hosts()).isEqualTo("db.internal:5433");
        assertThat(u.database()).isEqualTo("jobs");
        assertThat(u.display()).isEqualTo("postgresql://orch@db.internal:5433/jobs");
        assertThat(u.toString()).doesNotContain("p@ss").doesNotContain("w0rd");
    }

    @Test
    void postgres_scheme_and_jdbc_form_with_credentials_in_parameters_are_accepted() {
        PostgresUrl a = PostgresUrl.parse("postgres://u@h/d");
        assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://h/d");
        assertThat(a.user()).isEqualTo("u");
        assertThat(a.password()).isNull();
        PostgresUrl b = PostgresUrl.parse("jdbc:postgresql://h1:5432,h2:5432/d?user=orch&password=se%26cret&targetServerType=primary");
        assertThat(b.user()).isEqualTo("orch");
        assertThat(b.password()).isEqualTo("se&cret");
        assertThat(b.jdbcUrl()).isEqualTo("jdbc:postgresql://h1:5432,h2:5432/d?targetServerType=primary");
        PostgresUrl c = PostgresUrl.parse("postgresql://[::1]:5432/d");
        assertThat(c.hosts()).isEqualTo("[::1]:5432");
        assertThat(c.user()).isNull();
    }

    @Test
    void a_url_without_host_or_database_or_with_a_bad_escape_names_the_variable_and_not_the_password() {
        assertThatThrownBy(() -> PostgresUrl.parse("postgresql://u:pw@h:5432")).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("DATABASE_URL:").hasMessageContaining("no database").hasMessageNotContaining("pw");
        assertThatThrownBy(() -> PostgresUrl.parse("postgresql://u:pw@/d")).hasMessageContaining("no host");
        assertThatThrownBy(() -> PostgresUrl.parse("postgresql://u:se%zzcret@h/d")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("%-escape").hasMessageNotContaining("se%zzcret").hasMessageNotContaining("cret");
    }

    @Test
    void core_config_chooses_postgres_for_such_a_database_url_and_names_it_without_the_password() {
        CoreConfig c = CoreConfig.from(new Env(Map.of("DATABASE_URL", "postgresql://orch:hunter2@127.0.0.1:5432/orch")));
        assertThat(c.postgres()).isNotNull();
        assertThat(c.postgres().password()).isEqualTo("hunter2");
        assertThat(c.storeName()).isEqualTo("postgresql://orch@127.0.0.1:5432/orch");
        assertThat(c.toString()).doesNotContain("hunter2");
        assertThat(CoreConfig.from(new Env(Map.of())).postgres()).as("SQLite stays the default").isNull();
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("DATABASE_URL", "mysql://x")))).hasMessageContaining("postgresql://");
    }

    @Test
    void database_pool_size_sizes_each_processs_pool_and_a_pool_too_small_to_work_is_refused_by_name() {
        String url = "postgresql://orch@127.0.0.1:5432/orch";
        assertThat(CoreConfig.from(new Env(Map.of("DATABASE_URL", url))).postgres().poolSize()).isEqualTo(16);
        PostgresUrl small = CoreConfig.from(new Env(Map.of("DATABASE_URL", url, "DATABASE_POOL_SIZE", "4"))).postgres();
        assertThat(small.poolSize()).isEqualTo(4);
        assertThat(small.connectionsPerProcess()).isEqualTo(6);
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("DATABASE_URL", url, "DATABASE_POOL_SIZE", "3"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("DATABASE_POOL_SIZE");
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("DATABASE_URL", url, "DATABASE_POOL_SIZE", "many"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("DATABASE_POOL_SIZE");
        assertThat(CoreConfig.from(new Env(Map.of("DATABASE_POOL_SIZE", "8"))).postgres()).as("SQLite has no pool to size").isNull();
        assertThatThrownBy(() -> CoreConfig.from(new Env(Map.of("DATABASE_POOL_SIZE", "3")))).as("checked before a move to PostgreSQL")
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("DATABASE_POOL_SIZE");
    }
}
