package orchestrator.core.store.contract;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import orchestrator.core.store.JobStore;
import orchestrator.core.testing.TestPostgres;
import org.junit.jupiter.api.Assumptions;

/**
 * The store contract on PostgreSQL: a database of its own per test on the shared throwaway server
 * ({@link TestPostgres}), every instance a pool of its own on it, as hosts have.
 *
 * <p>Written before {@code PostgresJobStore} exists: it opens the store reflectively and is skipped while
 * the class is absent. Once the store lands, replace {@link #open} with the direct call, e.g.
 * {@code return new PostgresJobStore(url, TestPostgres.USER, "", clock, leaseTtl, maxLeaseAttempts);}.
 */
class PostgresJobStoreContractTest extends JobStoreContract {
    private static final String STORE_CLASS = "orchestrator.core.store.PostgresJobStore";
    /** This test's database, created on the first {@link #open}. */
    private String url;

    /** Whether the store is on the class path yet; checked per test so that every test shows as skipped, not none. */
    private static final boolean PRESENT = present();

    private static boolean present() {
        try {
            Class.forName(STORE_CLASS);
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    @Override
    protected JobStore open(Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        assumeTrue(PRESENT, STORE_CLASS + " is not written yet");
        if (url == null) {
            url = TestPostgres.shared().newDatabase();
        }
        try {
            Constructor<?> c = Class.forName(STORE_CLASS)
                    .getConstructor(String.class, String.class, String.class, Clock.class, Duration.class, int.class);
            return (JobStore) c.newInstance(url, TestPostgres.USER, "", clock, leaseTtl, maxLeaseAttempts);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("open " + STORE_CLASS + " (fix this call to its real constructor): " + e, e);
        }
    }

    @Override
    protected void assumeFileBackups() {
        Assumptions.abort("a PostgreSQL store is backed up with pg_dump, not JobStore.backup");
    }

    @Override
    protected JobStore openBackup(Path file, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        throw new UnsupportedOperationException("a PostgreSQL store writes no backup file");
    }
}
