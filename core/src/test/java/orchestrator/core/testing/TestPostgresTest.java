package orchestrator.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

    @Test
    void a_killed_runs_folder_is_swept_but_not_a_live_servers_a_recent_one_or_anything_else(@TempDir Path tmp) throws Exception {
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        Path dead = folder(tmp, TestPostgres.PREFIX + "dead", String.valueOf(ended.pid()), Duration.ofHours(3));
        Path noServer = folder(tmp, TestPostgres.PREFIX + "initdb-killed", null, Duration.ofHours(3));
        Path live = folder(tmp, TestPostgres.PREFIX + "live", String.valueOf(ProcessHandle.current().pid()), Duration.ofHours(3));
        Path recent = folder(tmp, TestPostgres.PREFIX + "setting-up", null, Duration.ofMinutes(5));
        Path other = folder(tmp, "someone-elses", null, Duration.ofHours(3));

        assertThat(TestPostgres.sweepStale(tmp, Duration.ofHours(1))).containsExactlyInAnyOrder(dead, noServer);

        assertThat(dead).doesNotExist();
        assertThat(noServer).doesNotExist();
        assertThat(live).isDirectory();
        assertThat(recent).isDirectory();
        assertThat(other).isDirectory();
    }

    /** A harness-like folder: {@code data/} with a postmaster.pid naming {@code pid} (none if null), last touched {@code ago}. */
    private static Path folder(Path tmp, String name, String pid, Duration ago) throws Exception {
        Path d = Files.createDirectories(tmp.resolve(name).resolve("data")).getParent();
        Files.writeString(d.resolve("data").resolve("PG_VERSION"), "15\n");
        if (pid != null) {
            Files.writeString(d.resolve("data").resolve("postmaster.pid"), pid + "\n/tmp/x\n");
        }
        Files.setLastModifiedTime(d, FileTime.from(Instant.now().minus(ago)));
        return d;
    }
}
