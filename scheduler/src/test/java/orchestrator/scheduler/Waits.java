package orchestrator.scheduler;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Waiting on a condition with a deadline: a test never sleeps a fixed time and hopes. */
final class Waits {
    private static final long POLL_NANOS = Duration.ofMillis(50).toNanos();

    private Waits() {
    }

    static void until(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("condition not met within " + timeout);
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }
}
