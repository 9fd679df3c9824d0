package orchestrator.core.store;

import java.time.Duration;

/** {@link RunnerRegistryTest} on PostgreSQL. */
class PostgresRunnerRegistryTest extends RunnerRegistryTest {
    @Override
    JobStore openStore() {
        return PostgresStores.open(PostgresStores.newDatabase(), clock, Duration.ofSeconds(30), 3);
    }

    @Override
    Long expectedClockSkewMs() {
        return clock.millis() - System.currentTimeMillis();
    }
}
