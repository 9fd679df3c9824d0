package orchestrator.runner;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StoredFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes {@code <artifacts>/<job_id>} and {@code <workspaces>/<job_id>} of jobs that ended
 * (succeeded, failed, cancelled) longer ago than {@code ARTIFACTS_TTL_SEC} / {@code WORKSPACES_TTL_SEC}.
 * Driven by the folders, each checked with the store: a job that is queued, running, paused for a
 * human or awaiting approval is never touched, nor is a folder whose job the store does not know
 * (logged once: it may belong to another installation sharing the folder, or be a restored backup).
 * Symlinks are deleted as links, never followed.
 *
 * <p>With stored files (PostgreSQL) a job's stored logs and artifacts go with its artifacts folder, and
 * since the folder may be on a host that is gone, the stored files are also looked at by themselves: those
 * of jobs that ended longer than {@code ARTIFACTS_TTL_SEC} ago are deleted by whichever runner looks first.
 */
final class RetentionSweep {
    private static final Logger log = LoggerFactory.getLogger(RetentionSweep.class);

    private final JobStore store;
    private final Clock clock;
    private final Path artifactsDir;
    private final Path workspacesDir;
    private final Supplier<RunnerConfig.Retention> settings;
    private final String actor;
    private final Set<String> reportedUnknown = ConcurrentHashMap.newKeySet();
    private final Optional<StoredFiles> storedFiles;
    /** Stored files' candidates looked at per sweep: a sweep stays short, the next one goes on. */
    static final int STORED_BATCH = 500;
    private String storedCursor = "";

    RetentionSweep(JobStore store, Clock clock, Path artifactsDir, Path workspacesDir,
                   Supplier<RunnerConfig.Retention> settings, String actor) {
        this(store, clock, artifactsDir, workspacesDir, settings, actor, Optional.empty());
    }

    RetentionSweep(JobStore store, Clock clock, Path artifactsDir, Path workspacesDir,
                   Supplier<RunnerConfig.Retention> settings, String actor, Optional<StoredFiles> storedFiles) {
        this.storedFiles = storedFiles;
        this.store = store;
        this.clock = clock;
        this.artifactsDir = artifactsDir;
        this.workspacesDir = workspacesDir;
        this.settings = settings;
        this.actor = actor;
    }

    /** One pass over both folders; returns how many job folders were deleted. */
    int sweep() throws IOException {
        RunnerConfig.Retention r = settings.get();
        return sweep(artifactsDir, r.artifactsTtlSec(), "artifacts", "ARTIFACTS_TTL_SEC")
                + sweep(workspacesDir, r.workspacesTtlSec(), "workspace", "WORKSPACES_TTL_SEC")
                + sweepStored(r.artifactsTtlSec());
    }

    /** The stored files of ended jobs past the TTL whose folders are on no host that sweeps them. */
    private int sweepStored(long ttlSec) {
        if (ttlSec == 0 || storedFiles.isEmpty()) {
            return 0;
        }
        Instant cutoff = clock.instant().minusSeconds(ttlSec);
        int deleted = 0;
        List<String> candidates = storedFiles.get().jobsWrittenBefore(cutoff, storedCursor, STORED_BATCH);
        // a job kept (waiting for a human) stays a candidate: the next sweep goes on after this batch, then starts over
        storedCursor = candidates.size() < STORED_BATCH ? "" : candidates.get(candidates.size() - 1);
        for (String id : candidates) {
            Optional<JobView> job = store.find(id);
            if (job.isEmpty()) {
                continue; // not ours to judge, as with a folder of an unknown job
            }
            JobView v = job.get();
            if (v.state().isFinal() && v.finishedAt() != null && v.finishedAt().isBefore(cutoff)) {
                storedFiles.get().deleteJob(id);
                store.audit(id, actor, "retention: deleted the stored logs and artifacts (ARTIFACTS_TTL_SEC " + ttlSec + ")");
                log.info("deleted the stored files of job {} (ended {}, ARTIFACTS_TTL_SEC {} s)", id, v.finishedAt(), ttlSec);
                deleted++;
            }
        }
        return deleted;
    }

    private int sweep(Path root, long ttlSec, String what, String variable) throws IOException {
        if (ttlSec == 0 || !Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            return 0;
        }
        Instant cutoff = clock.instant().minusSeconds(ttlSec);
        int deleted = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path dir : ds) {
                String id = dir.getFileName().toString();
                if (id.startsWith(".") || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    continue; // temp files, and symlinks (a link's target is not ours to judge)
                }
                Optional<JobView> job = store.find(id);
                if (job.isEmpty()) {
                    if (reportedUnknown.add(root + "/" + id)) {
                        log.warn("{} folder {} belongs to no job in the store; left alone", what, dir);
                    }
                    continue;
                }
                JobView v = job.get();
                if (!v.state().isFinal() || v.finishedAt() == null || !v.finishedAt().isBefore(cutoff)) {
                    continue;
                }
                deleteTree(dir);
                if (what.equals("artifacts") && storedFiles.isPresent()) {
                    storedFiles.get().deleteJob(id);
                }
                if (what.equals("workspace")) {
                    // the runner's own folders of the job beside it: its git folder, a crashed step's temporary
                    // folder, the agents' state of the job (and the files a CLI keeps of the job in its home)
                    for (Path own : List.of(orchestrator.runner.workspace.Workspaces.snapshotDir(root, id),
                            orchestrator.runner.workspace.Workspaces.tmpDir(root, id))) {
                        if (Files.isDirectory(own, LinkOption.NOFOLLOW_LINKS)) {
                            deleteTree(own);
                        }
                    }
                    orchestrator.runner.workspace.Workspaces.deleteAgentState(root, id);
                }
                deleted++;
                store.audit(id, actor, "retention: deleted the " + what + " folder (" + variable + " " + ttlSec + ")");
                log.info("deleted the {} folder of job {} (ended {}, {} {} s)", what, id, v.finishedAt(), variable, ttlSec);
            }
        }
        return deleted;
    }

    /** Deletes a tree without following symlinks: a link is removed, whatever it points to stays. */
    static void deleteTree(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
