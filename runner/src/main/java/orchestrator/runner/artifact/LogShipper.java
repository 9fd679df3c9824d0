package orchestrator.runner.artifact;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import orchestrator.core.store.StoredFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Ships one step's log into the store as it is written. It tails the step's local {@code logs.txt} (the
 * redacted, capped copy the log pump writes), so it never touches the agent's output pipe and a slow or
 * absent store can never block the agent: the local file is the buffer. Every {@link #EVERY} it sends what
 * was appended since its last acknowledged offset, in chunks of at most {@link #CHUNK_BYTES}; a failed send
 * (the store restarting) is retried from that offset at the next tick, and the store skips bytes it holds
 * already. A file replaced under it (a link an agent planted, removed and written afresh) starts a new
 * generation from byte 0, as a local reader would start over.
 *
 * <p>{@link #finish} is called on the job's thread when the step's process is gone: the rest is sent and
 * the log closed before the step is reported ended.
 */
final class LogShipper {
    static final int CHUNK_BYTES = 64 * 1024;
    static final Duration EVERY = Duration.ofMillis(200);
    /** At most this much is sent per tick, so one step printing fast cannot hold the shared threads. */
    static final long MAX_BYTES_PER_TICK = 4L * 1024 * 1024;
    /** How long {@link #finish} keeps retrying a store that does not answer before it gives up (the log stays open). */
    static final Duration FINISH_WITHIN = Duration.ofSeconds(30);
    private static final Logger log = LoggerFactory.getLogger(LogShipper.class);

    private final StoredFiles files;
    private final String jobId;
    private final String stepId;
    private final Path file;
    private final String runnerId;
    private final ByteBuffer buffer = ByteBuffer.allocate(CHUNK_BYTES);
    private ScheduledFuture<?> ticking;
    /** 0 until the store gave us a generation. */
    private long generation;
    private long acked;
    private Object fileKey;
    /** True once the store said a newer generation exists: another attempt owns the log now. */
    private boolean stale;
    private boolean failing;
    /** True while the store holds the log closed and nothing changed since. */
    private boolean closed;

    LogShipper(StoredFiles files, String jobId, String stepId, Path file, String runnerId) {
        this.files = files;
        this.jobId = jobId;
        this.stepId = stepId;
        this.file = file;
        this.runnerId = runnerId;
    }

    void start(ScheduledExecutorService ticks) {
        ticking = ticks.scheduleWithFixedDelay(this::tick, 0, EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Stops the ticks without sending the rest (the run is over without an end of its own). */
    void cancel() {
        if (ticking != null) {
            ticking.cancel(false);
        }
    }

    /** One tick on a shared thread: never throws (a scheduled task that throws is never run again). */
    private void tick() {
        MDC.put("job_id", jobId);
        MDC.put("runner_id", runnerId);
        MDC.put("step_id", stepId);
        try {
            ship(MAX_BYTES_PER_TICK);
            if (failing) {
                failing = false;
                log.info("step {}: log shipping to the store resumed at byte {}", stepId, acked);
            }
        } catch (Throwable t) {
            if (!failing) {
                // once per outage: the next ticks retry from the last acknowledged offset
                failing = true;
                log.warn("step {}: cannot ship the log to the store (retrying from byte {}): {}", stepId, acked, t.toString());
            }
        } finally {
            MDC.remove("step_id");
            MDC.remove("job_id");
            MDC.remove("runner_id");
        }
    }

    /**
     * Sends the rest and closes the log in the store; the caller's thread, retrying a failing store for up to
     * {@link #FINISH_WITHIN}. Called again after the job's end, it sends what changed since (the secrets check
     * rewrote the file) and costs one stat when nothing did.
     *
     * @return true when every byte is stored and the log is closed
     */
    boolean finish() {
        if (ticking != null) {
            ticking.cancel(false);
        }
        long deadline = System.nanoTime() + FINISH_WITHIN.toNanos();
        long pause = TimeUnit.MILLISECONDS.toNanos(100);
        while (true) {
            try {
                synchronized (this) {
                    ship(Long.MAX_VALUE);
                    if (!stale && generation > 0 && !closed) {
                        files.closeLog(jobId, stepId, generation);
                        closed = true;
                    }
                }
                return !stale;
            } catch (RuntimeException | IOException e) {
                if (System.nanoTime() - deadline >= 0) {
                    log.warn("step {}: the log could not be stored completely (stored up to byte {}): {}", stepId, acked, e.toString());
                    return false;
                }
                // a retry's backoff, bounded by the deadline above; nothing to wait on but time
                LockSupport.parkNanos(pause);
                pause = Math.min(pause * 2, TimeUnit.SECONDS.toNanos(2));
            }
        }
    }

    /** Sends what the file holds past {@link #acked}, up to {@code budget} bytes. Synchronized with {@link #finish}. */
    private synchronized void ship(long budget) throws IOException {
        if (stale) {
            return;
        }
        if (generation == 0) {
            generation = files.beginLog(jobId, stepId);
        }
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return; // nothing written yet
        }
        if (!a.isRegularFile()) {
            return; // a link planted in its place is never read; the runner replaces it before it writes
        }
        if (fileKey != null && !Objects.equals(fileKey, a.fileKey()) || a.size() < acked) {
            // replaced or truncated: what the reader sees starts over, and so does the stored copy
            generation = files.beginLog(jobId, stepId);
            acked = 0;
            closed = false;
        }
        fileKey = a.fileKey();
        if (a.size() <= acked || !JobArtifacts.plainFile(file)) {
            return;
        }
        try (SeekableByteChannel ch = Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long sent = 0;
            while (sent < budget) {
                buffer.clear();
                ch.position(acked);
                int n = ch.read(buffer);
                if (n <= 0) {
                    return;
                }
                long end = files.appendLog(jobId, stepId, generation, acked, buffer.array(), n);
                if (end < 0) {
                    stale = true;
                    log.warn("step {}: a newer run of this step owns its stored log; this one ships nothing more", stepId);
                    return;
                }
                sent += Math.max(0, end - acked);
                if (end > acked) {
                    closed = false;
                }
                if (end == acked) {
                    return; // the store holds no more than before (closed): nothing to gain by sending again
                }
                acked = end;
            }
        }
    }
}
