package orchestrator.core.store.contract;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.testing.TestPostgres;

/**
 * The store contract on PostgreSQL: a database of its own per test on the shared throwaway server
 * ({@link TestPostgres}), every instance a pool of its own on it, as hosts have. Each test's database is a
 * copy of one the store migrated once ({@code CREATE DATABASE … TEMPLATE}): migrating a fresh database per
 * test cost more than the test. The next test's copy is made while a test runs.
 */
class PostgresJobStoreContractTest extends JobStoreContract {
    /** The database the store migrated once, that each test's database copies; null until the first test. */
    private static String template;
    /** The next test's database, copied while this test runs (a copy is a checkpoint and an fsync: ~0.2 s). */
    private static CompletableFuture<String> next;
    /** This test's database, created on the first {@link #open}. */
    private String url;

    @Override
    protected JobStore open(Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        if (url == null) {
            url = migratedDatabase();
        }
        return construct(url, clock, leaseTtl, maxLeaseAttempts);
    }

    private static JobStore construct(String url, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        return new PostgresJobStore(url, TestPostgres.USER, "", clock, leaseTtl, maxLeaseAttempts);
    }

    /** A new database holding the store's schema and nothing else: a copy of the one migrated on first use. */
    private static synchronized String migratedDatabase() {
        if (template == null) {
            String first = TestPostgres.shared().newDatabase();
            // opened and closed: a template must have no connections when it is copied
            construct(first, Clock.systemUTC(), Duration.ofSeconds(30), 3).close();
            template = TestPostgres.databaseOf(first);
        }
        String url = next != null ? next.join() : copyOfTemplate();
        // one copy at a time: a copy must be the only user of the template
        next = CompletableFuture.supplyAsync(PostgresJobStoreContractTest::copyOfTemplate);
        return url;
    }

    private static String copyOfTemplate() {
        TestPostgres pg = TestPostgres.shared();
        String name = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), TestPostgres.USER, "");
             Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name + " TEMPLATE " + template);
        } catch (SQLException e) {
            throw new IllegalStateException("could not copy the migrated test database " + template + ": " + e.getMessage(), e);
        }
        return pg.jdbcUrl(name);
    }

    @Override
    protected boolean writesBackupFiles() {
        return false; // backed up with pg_dump; the contract checks the refusal says so
    }

    @Override
    protected JobStore openBackup(Path file, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        throw new UnsupportedOperationException("a PostgreSQL store writes no backup file");
    }
}
