package orchestrator.gateway.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Where the gateway reads a job's artifacts and step logs: this host's artifact folder ({@link LocalFileSource},
 * the one-host SQLite store) or the store's copy that every host can read ({@link StoredFileSource},
 * PostgreSQL). {@link JobLogs} and {@link JobArtifacts} have one code path over either.
 */
interface JobFileSource {
    /** The store's copy when there is one (PostgreSQL), with this host's folder for what it lacks; else the folder. */
    static JobFileSource of(java.nio.file.Path artifactsDir, Optional<orchestrator.core.store.StoredFiles> stored) {
        LocalFileSource local = new LocalFileSource(artifactsDir);
        return stored.<JobFileSource>map(s -> new StoredFileSource(s, local)).orElse(local);
    }

    /**
     * Opens an artifact for serving.
     *
     * @param segments path segments already checked by {@link JobArtifacts#segments} (no {@code ..}, no separators)
     * @return empty for a file that is not there (a 404)
     * @throws JobFiles.Refused for a local file an agent could have linked (a 403)
     */
    Optional<Served> artifact(String jobId, List<String> segments) throws IOException;

    /** The job's files, by path; at most {@link #MAX_LISTED}. */
    List<Listed> list(String jobId) throws IOException;

    /** A listing names at most this many files (an agent may write a folder full of them). */
    int MAX_LISTED = 1000;

    /** One file of a listing: its path inside the job folder, its size, when it was last written. */
    record Listed(String path, long size, java.time.Instant modifiedAt) {
    }

    /** A reader of one step's log from its first byte; {@code watch} (may be null) lets it skip reads when nothing changed. */
    LogReader log(String jobId, String stepId, Watch watch);

    /** A follower's wait for a change of the job's files; close it when the stream ends. */
    Watch watch(String jobId);

    /** A file to send: its bytes as a stream, closed by whoever sends it. */
    record Served(InputStream content) {
    }

    /** What a {@link LogReader} read: the bytes, whether the log started over (read afresh), whether more is there. */
    record Piece(byte[] bytes, boolean restarted, boolean more) {
        static final Piece NOTHING = new Piece(new byte[0], false, false);
    }

    /** Reads what was appended to one step's log since its last read. */
    interface LogReader {
        /** At most {@code maxBytes} past the last read; a log replaced since (a step run again) is read from its start. */
        Piece read(int maxBytes) throws IOException;

        /** Fails now, as a 403 can still be the answer, if the log is a file that must not be served. */
        default void check() throws IOException {
        }
    }

    /** Waits for the job's files to change. */
    interface Watch extends AutoCloseable {
        /** Returns when something may have changed, or after {@code max}. */
        void await(Duration max) throws InterruptedException;

        @Override
        void close();
    }
}
