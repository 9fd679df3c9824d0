package orchestrator.bench;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.Lease;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.PostgresJobStore;

/**
 * Our queue alone, the part of a no-op job that db-scheduler's no-op execution is comparable with: one
 * process that leases jobs from the PostgreSQL {@link JobStore} and finishes each as succeeded at once,
 * with no step, no file and nothing stored beside the job's row. Bench-only, driven by
 * {@code scripts/bench.py} (run with the product jar first on the class path, so it measures the store
 * the product ships):
 *
 * <pre>
 *   java -cp app/target/orchestrator.jar:bench/target/db-scheduler-bench.jar orchestrator.bench.QueueBench JDBC_URL USER SLOTS
 * </pre>
 *
 * It leases as a runner's lease loop does ({@code orchestrator.runner.Runner}): up to its free slots per
 * lease, waiting on the store's change signal ({@code LISTEN/NOTIFY}) while the queue is empty, leasing
 * again as soon as a finish frees a slot, and gathering for a moment when fewer than a quarter of the
 * slots are free. Each finish goes through the store's group writer on a worker thread of its own, as a
 * job's end does. It runs until it is stopped (SIGTERM closes the store).
 */
public final class QueueBench {
    /** As the runner's {@code LEASE_FALLBACK_MS} and {@code GATHER_MS}. */
    static final long WAKE_SLICE_MS = 50;
    static final long GATHER_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    private QueueBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("queue-bench: usage: JDBC_URL USER SLOTS");
            System.exit(2);
        }
        int slots = Integer.parseInt(args[2]);
        JobStore store = new PostgresJobStore(args[0], args[1], null, Clock.systemUTC(), Duration.ofSeconds(30), 3);
        ExecutorService workers = Executors.newFixedThreadPool(slots);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            workers.shutdownNow();
            store.close();
        }));
        String owner = "queue-bench-" + ProcessHandle.current().pid();
        Outcome done = Outcome.succeeded(Map.of(), 0, 0, 0);
        AtomicInteger running = new AtomicInteger();
        Object freed = new Object();
        long lastLease = 0;
        while (true) {
            long seen = store.changeCounter();
            int free = slots - running.get();
            long now = System.nanoTime();
            boolean gather = running.get() > 0 && free < slots / 4 && now - lastLease < GATHER_NANOS;
            List<Lease> leased = free > 0 && !gather ? store.lease(owner, free) : List.of();
            if (!leased.isEmpty()) {
                lastLease = now;
            }
            for (Lease l : leased) {
                running.incrementAndGet();
                workers.execute(() -> {
                    try {
                        store.finish(l, done);
                    } catch (RuntimeException e) {
                        System.err.println("queue-bench: finish of " + l.jobId() + " failed: " + e);
                    } finally {
                        running.decrementAndGet();
                        synchronized (freed) {
                            freed.notifyAll();
                        }
                    }
                });
            }
            if (leased.isEmpty() && free > 0 && !gather) {
                store.awaitChange(seen, WAKE_SLICE_MS); // nothing leasable: no query until something is enqueued
            } else if (gather) {
                Thread.sleep(1); // the gathering window: let more slots free up before one lease takes them
            } else if (free == 0) {
                synchronized (freed) {
                    while (running.get() >= slots) {
                        freed.wait(); // until a finish frees a slot
                    }
                }
            }
        }
    }
}
