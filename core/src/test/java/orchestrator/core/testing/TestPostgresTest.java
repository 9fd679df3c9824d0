package orchestrator.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class TestPostgresTest {

    @Test
    void a_new_database_is_empty_and_survives_a_restart_of_its_server() throws Exception {
        try (TestPostgres pg = new TestPostgres()) {
            String url = pg.newDatabase();
            try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE t (v int)");
                s.execute("INSERT INTO t VALUES (7)");
            }
            pg.stop();
            assertThatThrownBy(() -> DriverManager.getConnection(url).close()).isInstanceOf(SQLException.class);
            pg.start();
            try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM t")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(1)).isEqualTo(7);
            }
            assertThat(TestPostgres.databaseOf(url)).startsWith("t_");
        }
    }

    @Test
    void a_new_database_sorts_and_folds_case_as_an_operators_server_does_not_as_c() throws Exception {
        String url = TestPostgres.shared().newDatabase();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT string_agg(x, ' ' ORDER BY x), lower('Élan') FROM (VALUES ('B'), ('a'), ('_c'), ('0')) v(x)")) {
            rs.next();
            assertThat(rs.getString(1)).as("dictionary order, not byte order ('0 B _c a')").isEqualTo("_c 0 a B");
            assertThat(rs.getString(2)).as("every letter folds, not ASCII only").isEqualTo("élan");
        }
    }
}
