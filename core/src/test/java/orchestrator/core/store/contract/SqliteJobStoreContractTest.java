package orchestrator.core.store.contract;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.SqliteJobStore;

/** The store contract on the embedded store: every instance opens the test's one SQLite file, as processes on one host do. */
class SqliteJobStoreContractTest extends JobStoreContract {
    @Override
    protected JobStore open(Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        return new SqliteJobStore(tmp.resolve("orchestrator.db"), clock, leaseTtl, maxLeaseAttempts);
    }

    @Override
    protected JobStore openBackup(Path file, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        return new SqliteJobStore(file, clock, leaseTtl, maxLeaseAttempts);
    }
}
