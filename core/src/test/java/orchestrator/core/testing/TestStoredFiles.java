package orchestrator.core.testing;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import orchestrator.core.store.PostgresStoredFiles;

/**
 * A {@link PostgresStoredFiles} on a fresh database of the shared {@link TestPostgres}, with
 * {@code postgres/V2__files.sql} applied (it stands alone: no foreign key to the job tables), on a HikariCP
 * pool as the job store's will be. Close it to close the pool.
 */
public final class TestStoredFiles implements AutoCloseable {
    private final String url;
    private final HikariDataSource pool;
    private final PostgresStoredFiles files;

    public TestStoredFiles(Clock clock) {
        this(TestPostgres.shared().newDatabase(), clock);
    }

    /** On a database of its own: {@code V2__files.sql} is applied to it first. */
    public TestStoredFiles(String jdbcUrl, Clock clock) {
        this(jdbcUrl, clock, true);
    }

    /** Another host's view of a database whose tables exist already (a second pool, as another process has). */
    public static TestStoredFiles attach(String jdbcUrl, Clock clock) {
        return new TestStoredFiles(jdbcUrl, clock, false);
    }

    private TestStoredFiles(String jdbcUrl, Clock clock, boolean migrate) {
        this.url = jdbcUrl;
        if (migrate) {
            try (Connection c = java.sql.DriverManager.getConnection(jdbcUrl); Statement s = c.createStatement()) {
                s.execute(schema());
            } catch (SQLException e) {
                throw new IllegalStateException("cannot apply V2__files.sql: " + e.getMessage(), e);
            }
        }
        HikariConfig cfg = new HikariConfig();
        cfg.setJdbcUrl(jdbcUrl);
        cfg.setMaximumPoolSize(8);
        cfg.setConnectionTimeout(5_000);
        cfg.setPoolName("test-stored-files");
        this.pool = new HikariDataSource(cfg);
        this.files = new PostgresStoredFiles(pool, clock);
    }

    /** The migration's text, as the job store's migration runner reads it. */
    public static String schema() {
        try (InputStream in = TestStoredFiles.class.getResourceAsStream("/orchestrator/store/postgres/V2__files.sql")) {
            if (in == null) {
                throw new IllegalStateException("no /orchestrator/store/postgres/V2__files.sql on the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public PostgresStoredFiles files() {
        return files;
    }

    public String jdbcUrl() {
        return url;
    }

    @Override
    public void close() {
        files.close();
        pool.close();
    }
}
