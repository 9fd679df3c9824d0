package orchestrator.core.store;

import java.time.Clock;
import java.time.Duration;
import orchestrator.core.testing.TestPostgres;

/** Opens {@link PostgresJobStore}s on a test database of the JVM's shared server. */
final class PostgresStores {
    private PostgresStores() {
    }

    /** A fresh, empty database's JDBC URL (user orch, no password). */
    static String newDatabase() {
        return TestPostgres.shared().newDatabase();
    }

    static PostgresJobStore open(String jdbcUrl, Clock clock, Duration ttl, int maxLeaseAttempts) {
        // the test URL carries ?user=orch: the store takes the user apart, as CoreConfig hands it over
        int q = jdbcUrl.indexOf('?');
        return new PostgresJobStore(q < 0 ? jdbcUrl : jdbcUrl.substring(0, q), TestPostgres.USER, null, clock, ttl, maxLeaseAttempts);
    }
}
