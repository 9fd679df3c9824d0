package orchestrator.core.testing;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Polling waits on a condition with a deadline: how these tests wait, never a fixed sleep. */
public final class Waits {
    private Waits() {
    }

    public static void until(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            pause();
        }
    }

    /** The polling interval between two checks of a condition. */
    public static void pause() {
        LockSupport.parkNanos(Duration.ofMillis(50).toNanos());
    }
}
