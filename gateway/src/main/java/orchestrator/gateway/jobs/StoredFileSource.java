package orchestrator.gateway.jobs;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import orchestrator.core.store.StoredFiles;

/**
 * A job's files as the store keeps them (PostgreSQL), the same on every gateway host: artifacts as the runner
 * stored them when their step or the job ended, and each step's log as it is shipped while the step runs. A
 * step's {@code steps/<id>/logs.txt} is served from its stored log, whole.
 *
 * <p>What the store does not hold is looked for in this host's folder ({@code fallback}): jobs that ran
 * before the installation moved to PostgreSQL, and the files of a job still running on this very host that
 * the runner stores when it ends. Another host answers 404 for those until they are stored.
 */
final class StoredFileSource implements JobFileSource {
    /** How much of a log one query reads; a whole log is sent in pieces of this size. */
    static final int READ_BYTES = 1024 * 1024;

    private final StoredFiles files;
    private final JobFileSource fallback;

    StoredFileSource(StoredFiles files, JobFileSource fallback) {
        this.files = files;
        this.fallback = fallback;
    }

    @Override
    public Optional<Served> artifact(String jobId, List<String> segments) throws IOException {
        if (segments.size() == 3 && segments.get(0).equals("steps") && segments.get(2).equals("logs.txt")) {
            String stepId = segments.get(1);
            if (files.readLog(jobId, stepId, 0, 1).isPresent()) {
                return Optional.of(new Served(new LogStream(jobId, stepId)));
            }
        } else if (!String.join("/", segments).startsWith(StoredFiles.RUNNER_FILES)) {
            // the runner's own files (a workspace copy for another host) are not the job's artifacts: never served
            Optional<StoredFiles.Artifact> a = files.artifact(jobId, String.join("/", segments));
            if (a.isPresent()) {
                return Optional.of(new Served(new ByteArrayInputStream(a.get().content())));
            }
        }
        return fallback.artifact(jobId, segments);
    }

    /** The stored artifacts and step logs (as {@code steps/<id>/logs.txt}); this host's folder when none are stored. */
    @Override
    public List<Listed> list(String jobId) throws IOException {
        List<Listed> out = new java.util.ArrayList<>();
        for (StoredFiles.ArtifactInfo a : files.artifacts(jobId)) {
            if (a.path().startsWith(StoredFiles.RUNNER_FILES)) {
                continue;
            }
            out.add(new Listed(a.path(), a.size(), a.updatedAt()));
        }
        for (StoredFiles.LoggedStep s : files.loggedSteps(jobId)) {
            out.add(new Listed("steps/" + s.stepId() + "/logs.txt", s.size(), s.updatedAt()));
        }
        if (out.isEmpty()) {
            return fallback.list(jobId);
        }
        out.sort(java.util.Comparator.comparing(Listed::path));
        return out.size() > MAX_LISTED ? out.subList(0, MAX_LISTED) : out;
    }

    @Override
    public LogReader log(String jobId, String stepId, Watch watch) {
        return new StoredLog(jobId, stepId, watch instanceof StoredWatch w ? w : null, fallback.log(jobId, stepId, null));
    }

    @Override
    public Watch watch(String jobId) {
        return new StoredWatch(files.watch(jobId));
    }

    /** A follower's subscription to the job's change feed (LISTEN/NOTIFY). */
    private static final class StoredWatch implements Watch {
        private final StoredFiles.Changes changes;

        StoredWatch(StoredFiles.Changes changes) {
            this.changes = changes;
        }

        @Override
        public void await(Duration max) throws InterruptedException {
            changes.await(changes.seen(), max);
        }

        @Override
        public void close() {
            changes.close();
        }
    }

    /**
     * One step's stored log from where the last read ended. With a watch, a read the change feed says is
     * pointless (nothing of the job was written since the last one) costs no query. A step with no stored
     * log is read from this host's folder until the store has one.
     */
    private final class StoredLog implements LogReader {
        private final String jobId;
        private final String stepId;
        private final StoredWatch watch;
        private final LogReader local;
        private long generation;
        private long offset;
        /** The change count before the last read that found nothing more; -1: read. */
        private long quietAt = -1;
        private boolean usingLocal;

        StoredLog(String jobId, String stepId, StoredWatch watch, LogReader local) {
            this.jobId = jobId;
            this.stepId = stepId;
            this.watch = watch;
            this.local = local;
        }

        @Override
        public void check() throws IOException {
            if (files.readLog(jobId, stepId, 0, 1).isEmpty()) {
                local.check();
            }
        }

        @Override
        public Piece read(int maxBytes) throws IOException {
            if (usingLocal) {
                return local.read(maxBytes);
            }
            long before = watch == null ? -1 : watch.changes.seen();
            if (watch != null && quietAt == before && isListening()) {
                return Piece.NOTHING;
            }
            Optional<StoredFiles.LogRead> r = files.readLog(jobId, stepId, offset, maxBytes);
            if (r.isEmpty()) {
                Piece p = local.read(maxBytes);
                // a local log and none stored: a job from before the store kept logs, or one of this host's
                usingLocal = p.bytes().length > 0;
                return p;
            }
            boolean restarted = false;
            if (r.get().generation() != generation) {
                restarted = generation != 0 || offset != 0;
                generation = r.get().generation();
                if (offset != 0) {
                    offset = 0;
                    r = files.readLog(jobId, stepId, 0, maxBytes);
                    if (r.isEmpty() || r.get().generation() != generation) {
                        return new Piece(new byte[0], true, true); // replaced again meanwhile: the next read starts over
                    }
                }
            }
            offset = r.get().nextOffset();
            boolean more = r.get().more();
            quietAt = more ? -1 : before;
            return new Piece(r.get().bytes(), restarted, more);
        }

        private boolean isListening() {
            return !(files instanceof orchestrator.core.store.PostgresStoredFiles pg) || pg.listening();
        }
    }

    /** A step's whole stored log as a stream, read from the store a piece at a time. */
    private final class LogStream extends InputStream {
        private final String jobId;
        private final String stepId;
        private long offset;
        private long generation;
        private byte[] piece = new byte[0];
        private int at;
        private boolean done;

        LogStream(String jobId, String stepId) {
            this.jobId = jobId;
            this.stepId = stepId;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            while (at >= piece.length) {
                if (done) {
                    return -1;
                }
                Optional<StoredFiles.LogRead> r = files.readLog(jobId, stepId, offset, READ_BYTES);
                if (r.isEmpty() || generation != 0 && r.get().generation() != generation) {
                    // gone or replaced while it was sent: what was sent is the answer, cut where it changed
                    done = true;
                    return -1;
                }
                generation = r.get().generation();
                piece = r.get().bytes();
                at = 0;
                offset = r.get().nextOffset();
                done = !r.get().more();
            }
            int n = Math.min(len, piece.length - at);
            System.arraycopy(piece, at, b, off, n);
            at += n;
            return n;
        }
    }
}
