package orchestrator.runner;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import orchestrator.core.store.Lease;

/**
 * A job this runner holds, shared by its worker (which owns every write about the job) and the
 * heartbeat and drain paths (which only ask it to stop). The worker polls {@link #stopRequest()}.
 */
final class RunningJob {
    enum Stop {
        /** someone asked to cancel: kill the step, end the job {@code cancelled} */
        CANCELLED,
        /** the runner is draining: kill the step, give the job back to the queue */
        DRAINING,
        /**
         * another process owns the job now, or may: the heartbeat saw another owner, or no heartbeat reached the store
         * for nearly a lease TTL. Kill the step, write nothing more
         */
        LEASE_LOST
    }

    private final Lease lease;
    private final AtomicReference<Stop> stop = new AtomicReference<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Set just before the final write: from then on the lease may vanish at any moment, as it should. */
    private volatile boolean ending;
    /** {@link System#nanoTime} when the last lease or heartbeat that renewed the lease was sent: it lives a TTL from then. */
    private volatile long renewedNanos;

    RunningJob(Lease lease) {
        this(lease, System.nanoTime());
    }

    /** @param leasedNanos {@link System#nanoTime} just before the lease was asked for */
    RunningJob(Lease lease, long leasedNanos) {
        this.lease = lease;
        this.renewedNanos = leasedNanos;
    }

    /** A heartbeat sent at {@code sentNanos} renewed the lease. */
    void renewed(long sentNanos) {
        if (sentNanos - renewedNanos > 0) {
            renewedNanos = sentNanos;
        }
    }

    long renewedNanos() {
        return renewedNanos;
    }

    Lease lease() {
        return lease;
    }

    /**
     * Asks the job to stop. The first reason wins, except that a lost lease overrides everything:
     * whatever else was asked, a job we no longer own must not be written.
     */
    void stop(Stop reason) {
        if (reason == Stop.LEASE_LOST) {
            stop.set(reason);
        } else {
            stop.compareAndSet(null, reason);
        }
        stopped.countDown();
    }

    /** The worker is about to write the job's outcome: a heartbeat must not mistake that for a lost lease. */
    void ending() {
        ending = true;
    }

    boolean isEnding() {
        return ending;
    }

    Stop stopRequest() {
        return stop.get();
    }

    boolean lost() {
        return stop.get() == Stop.LEASE_LOST;
    }

    /** Waits up to {@code d} (a simulated step, a retry back-off); returns early when a stop is asked. */
    boolean awaitStop(Duration d) throws InterruptedException {
        return stopped.await(d.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * One back-off of a retry against a store that is away: waits {@code ms} and returns the next wait (doubled, at
     * most 2 s). A lost lease (the heartbeat saw another owner) ends the wait early; a stop asked before (a cancel,
     * a drain) has already released the latch, and the wait is then a plain one.
     */
    long backOff(long ms) throws InterruptedException {
        if (stopRequest() == null) {
            awaitStop(Duration.ofMillis(ms));
        } else {
            Thread.sleep(ms);
        }
        return Math.min(ms * 2, 2_000);
    }
}
