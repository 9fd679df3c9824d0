package orchestrator.core.store;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A job's step logs and artifacts kept in the store, so that any gateway host serves them (DESIGN §3: on
 * PostgreSQL "logs and artifacts are kept in the store too"). The runner's local folder stays what the
 * agents read and write; this is the copy every other host reads. On SQLite (one host) there is none
 * ({@code Optional.empty()}): the gateway reads the local folder, and the runner ships nothing.
 *
 * <p>A step's log is append-only within a <em>generation</em>: {@link #beginLog} starts a new one (the step
 * runs again, its local file was replaced) and drops the last one's bytes, as the runner's local file is
 * replaced. Every write names its generation, so a writer still shipping an old one writes nothing.
 * {@link #appendLog} is idempotent by byte offset: a chunk sent again after a reconnect (its commit made it,
 * its answer did not) is not stored twice, and a chunk that overlaps the stored end adds only its new bytes.
 *
 * <p>Everything stored here must already be redacted: secrets never reach the store.
 */
public interface StoredFiles extends AutoCloseable {
    /** What {@link #putArtifact} appends to a copy cut at its cap, before the original size is known to the reader. */
    String CUT_MARKER = "\n[cut: the stored copy keeps the first %d of %d bytes (STORED_ARTIFACT_MAX_BYTES)]\n";

    /**
     * Starts a new generation of a step's log, empty and open; the previous generation's bytes are dropped.
     *
     * @return the new generation (greater than any before it for this step)
     */
    long beginLog(String jobId, String stepId);

    /**
     * Appends {@code bytes[0..length)}, which start at byte {@code offset} of the log. Bytes below the stored
     * end are already stored (a re-sent chunk) and are skipped; a chunk past the stored end (a gap) stores
     * nothing. Either way the answer is the stored end, from which the caller sends next.
     *
     * @return the log's stored size after the call, or -1 when {@code generation} is no longer the step's
     *         (a newer one began: this writer is stale and must stop)
     */
    long appendLog(String jobId, String stepId, long generation, long offset, byte[] bytes, int length);

    /**
     * {@link #appendLog} and, with {@code close}, {@link #closeLog}, in one transaction with one change notice: how
     * a shipper sends a step's last bytes. {@code generation} 0 first begins a new generation ({@link #beginLog}),
     * so a short step's whole log is one write. {@code length} may be 0 (nothing to append).
     *
     * @return the generation written and the stored size after the call; size -1 when the generation is stale
     */
    LogWrite writeLog(String jobId, String stepId, long generation, long offset, byte[] bytes, int length, boolean close);

    /** Marks a generation's log complete: nothing more is coming. @return false when the generation is stale. */
    boolean closeLog(String jobId, String stepId, long generation);

    /**
     * Up to {@code maxBytes} of a step's log from {@code offset} of its current generation.
     *
     * @return empty when the step has no stored log
     */
    Optional<LogRead> readLog(String jobId, String stepId, long offset, int maxBytes);

    /** The steps that have a stored log, by step id. */
    List<LoggedStep> loggedSteps(String jobId);

    /**
     * Stores (or replaces) one artifact, {@code path} relative to the job's folder ({@code result.json},
     * {@code steps/01_plan/report.md}). At most {@code capBytes} of it are kept; a longer file is cut there,
     * {@link #CUT_MARKER} is appended and its original size kept.
     *
     * @param size the file's size (how much {@code content} holds)
     */
    void putArtifact(String jobId, String path, InputStream content, long size, long capBytes) throws IOException;

    /**
     * Stores (or replaces) several artifacts of one job in one transaction with one change notice, each as
     * {@link #putArtifact} would: a job's files at its end cost one commit, not one each.
     */
    void putArtifacts(String jobId, List<Upload> uploads, long capBytes);

    /** One stored artifact, or empty. */
    Optional<Artifact> artifact(String jobId, String path);

    /** Every stored artifact of the job (not its logs), by path. */
    List<ArtifactInfo> artifacts(String jobId);

    /** Deletes everything stored for the job (retention). @return how many rows went */
    int deleteJob(String jobId);

    /**
     * Retention's candidates: up to {@code limit} job ids, after {@code afterJobId} in id order (empty string:
     * from the first), that have a stored file last written before {@code cutoff}. The caller decides by the
     * job's state in the job store.
     */
    List<String> jobsWrittenBefore(Instant cutoff, String afterJobId, int limit);

    /**
     * Watches one job's stored files for changes (a follower): the way to wait for new log data without
     * reading the tables in a loop. Close it when done.
     */
    Changes watch(String jobId);

    /** A job's changes as a counter: read {@link #seen()}, read the files, then {@link #await} a newer count. */
    interface Changes extends AutoCloseable {
        /** A counter that moves whenever the job's stored files may have changed. */
        long seen();

        /**
         * Waits until the counter moves past {@code seen}, or {@code max} passes.
         *
         * @return true when something may have changed (also when the change feed itself was down and a read is
         *         the only way to know), false when {@code max} passed without a change
         */
        boolean await(long seen, Duration max) throws InterruptedException;

        @Override
        void close();
    }

    @Override
    void close();

    /**
     * A piece of a step's log.
     *
     * @param generation which generation it is of: a reader that saw another starts over
     * @param bytes      the bytes from the asked offset
     * @param nextOffset the offset to read from next
     * @param size       the stored size of the log now
     * @param closed     true when the runner marked the log complete
     */
    record LogRead(long generation, byte[] bytes, long nextOffset, long size, boolean closed) {
        public LogRead {
            Objects.requireNonNull(bytes, "bytes");
        }

        /** True when the log holds more than this read took. */
        public boolean more() {
            return nextOffset < size;
        }
    }

    /** What {@link #writeLog} did: the generation it wrote to, and the stored size after it (-1: stale). */
    record LogWrite(long generation, long size) {
    }

    /**
     * One file for {@link #putArtifacts}.
     *
     * @param content its first bytes, at most the cap (all of them when it is not longer)
     * @param size    the file's whole size: above the cap, the stored copy is cut and says so
     */
    record Upload(String path, byte[] content, long size) {
        public Upload {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(content, "content");
        }

        /** The first {@code min(size, capBytes)} bytes of {@code content}, for a file of {@code size} bytes. */
        public static Upload read(String path, InputStream content, long size, long capBytes) throws IOException {
            if (capBytes < 0 || size < 0) {
                throw new IllegalArgumentException("negative size or cap");
            }
            return new Upload(path, content.readNBytes((int) Math.min(size, Math.min(capBytes, Integer.MAX_VALUE - 1024))), size);
        }
    }

    /** A step with a stored log. */
    record LoggedStep(String stepId, long generation, long size, boolean closed, Instant updatedAt) {
    }

    /** An artifact's description. @param size its original size; @param cut true when the stored copy was cut */
    record ArtifactInfo(String path, long size, boolean cut, Instant updatedAt) {
    }

    /** A stored artifact: its description and the stored bytes. */
    record Artifact(ArtifactInfo info, byte[] content) {
    }

    /**
     * Paths under this prefix are the runner's own, not the job's artifacts: what another host needs to rebuild
     * the job's workspace when it resumes the job. Stored with {@link #putArtifact} like any file, but never
     * listed to a user nor served (the gateway skips them), and never cut: the runner checks their size itself.
     */
    String RUNNER_FILES = ".orch/";
}
