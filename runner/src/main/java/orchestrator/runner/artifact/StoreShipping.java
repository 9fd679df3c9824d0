package orchestrator.runner.artifact;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.core.store.StoredFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a runner puts into the store so that any gateway host serves a job's files (PostgreSQL): each step's
 * log as it is written ({@link LogShipper}), each step's artifacts when it ends, and the job's files when it
 * ends. Without stored files (SQLite, one host) it is {@link #NONE} and costs a job nothing: no thread, no
 * file read, no write.
 *
 * <p>Everything it reads is a file the runner wrote already redacted (the log pump, {@code writeAtomically} of
 * redacted text, the masked patch): what the store holds is exactly what the local folder holds, secrets
 * masked.
 */
public final class StoreShipping implements AutoCloseable {
    /** The step's files stored when it ends (its log is shipped as it is written). */
    static final List<String> STEP_FILES = List.of("result.json", "report.md", "patch.diff");
    /** At most this many files of a job are stored (an agent may write a folder full of them); more are skipped, named in a warning. */
    static final int MAX_FILES_PER_JOB = 200;
    /** A job's files go to the store in one transaction each this many bytes (read into memory first). */
    static final long BATCH_BYTES = 8L * 1024 * 1024;
    private static final Logger log = LoggerFactory.getLogger(StoreShipping.class);

    /** No stored files: nothing is shipped. */
    public static final StoreShipping NONE = new StoreShipping(null, null, () -> 0);

    private final StoredFiles files;
    private final String runnerId;
    private final LongSupplier capBytes;
    private final ScheduledExecutorService ticks;

    /**
     * @param capBytes {@code STORED_ARTIFACT_MAX_BYTES} as the runner's settings say now (a reload may change it)
     */
    public static StoreShipping of(Optional<StoredFiles> files, String runnerId, LongSupplier capBytes) {
        return files.map(f -> new StoreShipping(f, runnerId, capBytes)).orElse(NONE);
    }

    private StoreShipping(StoredFiles files, String runnerId, LongSupplier capBytes) {
        this.files = files;
        this.runnerId = runnerId;
        this.capBytes = capBytes;
        if (files == null) {
            this.ticks = null;
        } else {
            AtomicInteger n = new AtomicInteger();
            // two threads for every running step's shipper: a tick is a stat and, when the log grew, one insert
            this.ticks = Executors.newScheduledThreadPool(2, r -> {
                Thread t = new Thread(r, "log-shipper-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
    }

    /** The store's files, when there are any (the retention sweep deletes a job's with its folder). */
    public Optional<StoredFiles> files() {
        return Optional.ofNullable(files);
    }

    /** One job's shipment; for {@link #NONE} one that does nothing. */
    public Job forJob(String jobId, Path root) {
        return files == null ? Job.NONE : new Job(jobId, root);
    }

    @Override
    public void close() {
        if (ticks != null) {
            ticks.shutdownNow();
        }
    }

    /** One job's files on their way to the store. Used by the job's thread only. */
    public final class Job {
        static final Job NONE = StoreShipping.NONE.new Job(null, null);

        private final String jobId;
        private final Path root;
        private final Map<String, LogShipper> shippers = new HashMap<>();
        /** The shippers of steps that ended: looked at once more when the job ends. */
        private final List<LogShipper> finished = new ArrayList<>();
        /** What was stored of each file (size, mtime), so the job's end does not store an unchanged file again. */
        private final Map<String, String> stored = new HashMap<>();
        /** Transactions of files the store refused so far (each one logged). */
        private int failedSends;

        private Job(String jobId, Path root) {
            this.jobId = jobId;
            this.root = root;
        }

        /**
         * The step starts: its log, which the step writes afresh, begins a new stored generation. The local
         * log is removed first (every run of a step rewrites it from its first byte anyway), so the shipper
         * never sends an earlier run's bytes.
         */
        public void stepStarted(String stepId, Path logFile) {
            if (files == null) {
                return;
            }
            LogShipper old = shippers.remove(stepId);
            if (old != null) {
                old.finish();
            }
            try {
                Files.deleteIfExists(logFile);
            } catch (IOException e) {
                // a folder an agent planted there: the step's own writes fail on it as they did before
                log.warn("cannot remove the earlier log of step {} before it runs: {}", stepId, e.toString());
            }
            LogShipper s = new LogShipper(files, jobId, stepId, logFile, runnerId);
            shippers.put(stepId, s);
            s.start(ticks);
        }

        /**
         * The step's process is gone and its artifacts are written: the log is sent to its end and closed,
         * and the step's {@link #STEP_FILES} are stored, before the step is reported ended.
         */
        public void stepEnded(String stepId, Path stepDir) {
            if (files == null) {
                return;
            }
            LogShipper s = shippers.remove(stepId);
            if (s != null) {
                s.finish();
                finished.add(s);
            }
            List<Path> step = new ArrayList<>();
            for (String name : STEP_FILES) {
                step.add(stepDir.resolve(name));
            }
            put(step, List.of());
        }

        /**
         * The job's files are written (result.json last but for state.json): every plain file of its folder is
         * stored but the step logs (shipped already), each once unless it changed since; and {@code with} (the
         * runner's own, under {@link StoredFiles#RUNNER_FILES}), all of it in the last transaction.
         *
         * @return true when every file and {@code with} are stored (nothing to store counts); false when the store
         *     refused one of its transactions (the caller may try again: what is stored already is not sent twice)
         */
        public boolean jobEnded(List<StoredFiles.Upload> with) {
            if (files == null) {
                return with.isEmpty();
            }
            for (LogShipper open : shippers.values()) {
                open.finish(); // a step that ended without stepEnded (the run stopped)
            }
            shippers.clear();
            // the secrets check may have rewritten a step's log after it was shipped: what changed is sent again
            for (LogShipper done : finished) {
                done.finish();
            }
            List<Path> found = new ArrayList<>();
            try {
                Files.walkFileTree(root, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                        if (attrs.isRegularFile() && !f.getFileName().toString().startsWith(".") && !isStepLog(f)) {
                            found.add(f);
                        }
                        return FileVisitResult.CONTINUE;
                    }
                });
            } catch (IOException e) {
                log.warn("cannot list the job's folder to store its files: {}", e.toString());
            }
            if (found.size() > MAX_FILES_PER_JOB) {
                log.warn("the job's folder holds {} files; only {} are stored (the store serves them to other hosts)",
                        found.size(), MAX_FILES_PER_JOB);
            }
            // the seed's files first, so that a folder full of an agent's files cannot push them out
            found.sort((a, b) -> Integer.compare(rank(a), rank(b)));
            int failedBefore = failedSends;
            boolean last = put(found.subList(0, Math.min(found.size(), MAX_FILES_PER_JOB)), with);
            return last && failedSends == failedBefore;
        }

        /**
         * Stores a folder no runner shipped, of a job that ended before its store kept files ({@code orchestrator
         * migrate} from SQLite): each step's {@code logs.txt} whole, as a closed log, then the job's other files as
         * {@link #jobEnded} stores them. Not for a job that a runner runs now.
         *
         * @return true when every file went to the store; false when one was refused (each failure is logged)
         */
        public boolean storeEndedFolder() {
            if (files == null) {
                return true;
            }
            boolean all = true;
            try (var steps = Files.newDirectoryStream(root.resolve("steps"))) {
                for (Path dir : steps) {
                    Path logFile = dir.resolve("logs.txt");
                    if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && JobArtifacts.plainFile(logFile)) {
                        all &= new LogShipper(files, jobId, dir.getFileName().toString(), logFile, runnerId).finish();
                    }
                }
            } catch (java.nio.file.NoSuchFileException e) {
                // a job that ran no step
            } catch (IOException e) {
                log.warn("cannot list the steps of {} to store their logs: {}", root, e.toString());
                all = false;
            }
            int failedBefore = failedSends;
            jobEnded(List.of());
            return failedSends == failedBefore && all;
        }

        /** The run ends however it ends (a lost lease, a drain): no shipper keeps ticking for it. Nothing more is sent. */
        public void stop() {
            if (files == null) {
                return;
            }
            for (LogShipper s : shippers.values()) {
                s.cancel();
            }
            shippers.clear();
        }

        private int rank(Path f) {
            String name = root.relativize(f).toString();
            return List.of("result.json", "report.md", "patch.diff", "logs.txt", "job.json", "state.json", "context.json")
                    .contains(name) || name.startsWith("steps/") ? 0 : 1;
        }

        private boolean isStepLog(Path f) {
            Path rel = root.relativize(f);
            return rel.getNameCount() == 3 && rel.getName(0).toString().equals("steps") && rel.getName(2).toString().equals("logs.txt");
        }

        /**
         * Stores the plain files of ours among {@code paths} that changed since they were last stored, in one
         * transaction per {@link #BATCH_BYTES}, {@code with} in the last one whatever its size. A failure is logged
         * and the job goes on (the local copy stays).
         *
         * @return true when the last transaction committed (or there was nothing to send)
         */
        private boolean put(List<Path> paths, List<StoredFiles.Upload> with) {
            List<StoredFiles.Upload> batch = new ArrayList<>();
            Map<String, String> versions = new HashMap<>();
            long bytes = 0;
            long cap = capBytes.getAsLong();
            for (Path f : paths) {
                String path = root.relativize(f).toString().replace('\\', '/');
                if (path.startsWith(StoredFiles.RUNNER_FILES)) {
                    continue; // an agent's file there would pass for the runner's own (WorkspaceHandover's manifest)
                }
                try {
                    if (!JobArtifacts.plainFile(f)) {
                        continue; // missing, or a link an agent planted: never read, never stored
                    }
                    BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    String version = a.size() + "@" + a.lastModifiedTime().toMillis() + "@" + a.fileKey();
                    if (version.equals(stored.get(path))) {
                        continue;
                    }
                    try (InputStream in = Files.newInputStream(f, LinkOption.NOFOLLOW_LINKS)) {
                        StoredFiles.Upload u = StoredFiles.Upload.read(path, in, a.size(), cap);
                        batch.add(u);
                        bytes += u.content().length;
                    }
                    versions.put(path, version);
                } catch (IOException e) {
                    log.warn("cannot store {} (other hosts will not serve it until it is stored): {}", path, e.getMessage());
                }
                if (bytes >= BATCH_BYTES) {
                    send(batch, versions, cap);
                    bytes = 0;
                }
            }
            batch.addAll(with);
            return send(batch, versions, cap);
        }

        private boolean send(List<StoredFiles.Upload> batch, Map<String, String> versions, long cap) {
            if (batch.isEmpty()) {
                return true;
            }
            try {
                files.putArtifacts(jobId, batch, cap);
                stored.putAll(versions);
                return true;
            } catch (StoreUnavailableException e) {
                failedSends++;
                log.warn("cannot store {} (other hosts will not serve {} until they are stored): {}",
                        batch.stream().map(StoredFiles.Upload::path).toList(), batch.size() == 1 ? "it" : "them", e.getMessage());
                return false;
            } finally {
                batch.clear();
                versions.clear();
            }
        }
    }
}
