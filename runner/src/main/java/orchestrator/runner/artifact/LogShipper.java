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
    /** 0 until the store gave us a generation (the first write begins one). */
    private long generation;
    private long acked;
    private Object fileKey;
    /** True once the store said a newer generation exists: another attempt owns the log now. */
    private boolean stale;
    private boolean failing;
    /** True while the store holds the log closed and nothing changed since. */
    private boolean closed;
    /** True once the first tick looked for an earlier run's stored log of this step. */
    private boolean checkedEarlier;

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
            ship(MAX_BYTES_PER_TICK, false);
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
                ship(Long.MAX_VALUE, true);
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

    /**
     * Sends what the file holds past {@link #acked}, up to {@code budget} bytes; with {@code close}, the last
     * chunk also closes the log (one transaction), and a log with nothing more to send is closed. The stored log
     * begins with its first write (a step that prints nothing costs no write until its end). Synchronized with
     * {@link #finish}.
     */
    private synchronized void ship(long budget, boolean close) throws IOException {
        if (stale) {
            return;
        }
        if (generation == 0 && !checkedEarlier && !close) {
            // an earlier run of the step left its log in the store: readers must not take it for this run's
            checkedEarlier = true;
            if (files.readLog(jobId, stepId, 0, 1).isPresent()) {
                write(0, 0, false);
            }
        }
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            a = null; // nothing written yet
        }
        if (a == null || !a.isRegularFile()) {
            // nothing written, or a link planted in its place, which is never read (the runner replaces it before it writes)
            closeEmpty(close);
            return;
        }
        if (fileKey != null && !Objects.equals(fileKey, a.fileKey()) || a.size() < acked) {
            // replaced or truncated: what the reader sees starts over, and so does the stored copy
            generation = 0;
            acked = 0;
            write(0, 0, false);
            closed = false;
        }
        fileKey = a.fileKey();
        if (a.size() <= acked || !JobArtifacts.plainFile(file)) {
            closeEmpty(close);
            return;
        }
        try (SeekableByteChannel ch = Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long sent = 0;
            while (sent < budget) {
                buffer.clear();
                ch.position(acked);
                int n = ch.read(buffer);
                if (n <= 0) {
                    break;
                }
                // the step's process is gone when close is asked: what the file holds now is all of it
                boolean last = close && ch.position() >= ch.size();
                StoredFiles.LogWrite w = write(acked, n, last);
                if (stale) {
                    return;
                }
                long end = w.size();
                sent += Math.max(0, end - acked);
                if (last) {
                    closed = true;
                } else if (end > acked) {
                    closed = false;
                }
                if (end == acked) {
                    return; // the store holds no more than before (closed): nothing to gain by sending again
                }
                acked = end;
                if (last) {
                    return;
                }
            }
        }
        closeEmpty(close); // with close the budget is unbounded: the loop ended at the file's end
    }

    /** With {@code close}, closes a log that has nothing more to send (beginning it first if it never began). */
    private void closeEmpty(boolean close) {
        if (close && !closed && !stale) {
            write(acked, 0, true);
            if (!stale) {
                closed = true;
            }
        }
    }

    /** One {@link StoredFiles#writeLog} of {@code length} bytes of the buffer at {@code offset}; a stale answer marks this shipper stale. */
    private StoredFiles.LogWrite write(long offset, int length, boolean close) {
        StoredFiles.LogWrite w = files.writeLog(jobId, stepId, generation, offset, buffer.array(), length, close);
        generation = w.generation();
        if (w.size() < 0) {
            stale = true;
            log.warn("step {}: a newer run of this step owns its stored log; this one ships nothing more", stepId);
        }
        return w;
    }

}
