package orchestrator.app;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.core.store.StoredFiles;
import orchestrator.runner.artifact.StoreShipping;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The second half of {@code orchestrator migrate}: the logs and artifacts of the jobs that ran on the SQLite host,
 * copied from its artifacts folder into the PostgreSQL store, so that every gateway serves them as it serves a job
 * that ran on PostgreSQL (without them, only a gateway on the old host could, and a proxy over several gateways
 * would answer 404 for the same file most of the time). Each job's folder is stored as a runner stores it at the
 * job's end ({@link StoreShipping.Job#storeEndedFolder}): what is stored is the folder byte for byte, already
 * redacted, each file cut at {@code STORED_ARTIFACT_MAX_BYTES}.
 *
 * <p>Only jobs no runner can be running: ended ones and those waiting for a human (queued and running jobs get
 * their files from the runner that runs them). A mark under {@link StoredFiles#RUNNER_FILES} (never listed nor
 * served) records a job's copy as started, then done, so that a run again copies what a failed run left out and
 * never overwrites the files of a job that ran on PostgreSQL since.
 */
final class MigratedFolders {
    static final String MARK = StoredFiles.RUNNER_FILES + "migrated";
    private static final byte[] STARTED = "started".getBytes(StandardCharsets.UTF_8);
    private static final byte[] DONE = "done".getBytes(StandardCharsets.UTF_8);
    private static final Logger log = LoggerFactory.getLogger(MigratedFolders.class);

    /**
     * @param copied jobs whose folder was stored now
     * @param before jobs whose files the store held already (an earlier migrate, or a run on PostgreSQL)
     * @param active queued or running jobs, not copied
     * @param failed jobs of which a file could not be stored
     */
    record Copied(int copied, int before, int active, List<String> failed) {
    }

    private MigratedFolders() {
    }

    static Copied copy(PostgresJobStore store, Path folders, long capBytes) {
        // each job's files are stamped with the time the job ended, as a runner on PostgreSQL would have stored them:
        // listings show that time, and retention (ARTIFACTS_TTL_SEC) counts from it, not from the migration
        JobEndClock stamps = new JobEndClock();
        StoredFiles files = store.storedFiles(stamps);
        int copied = 0;
        int before = 0;
        int active = 0;
        List<String> failed = new ArrayList<>();
        String who = "migrate/" + ProcessHandle.current().pid();
        try (StoreShipping shipping = StoreShipping.of(Optional.of(files), who, () -> capBytes);
             DirectoryStream<Path> dirs = Files.newDirectoryStream(folders)) {
            for (Path dir : dirs) {
                String id = dir.getFileName().toString();
                if (id.startsWith(".") || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                Optional<JobView> job = store.find(id);
                if (job.isEmpty()) {
                    continue; // a folder of a job the store no longer holds (deleted): nothing would serve it
                }
                JobState state = job.get().state();
                if (state == JobState.QUEUED || state == JobState.RUNNING) {
                    active++;
                    continue;
                }
                stamps.job = job.get().finishedAt();
                try {
                    if (!needsCopy(files, id)) {
                        before++;
                        continue;
                    }
                    files.putArtifacts(id, List.of(new StoredFiles.Upload(MARK, STARTED, STARTED.length)), capBytes);
                    if (shipping.forJob(id, dir).storeEndedFolder()) {
                        files.putArtifacts(id, List.of(new StoredFiles.Upload(MARK, DONE, DONE.length)), capBytes);
                        copied++;
                    } else {
                        failed.add(id);
                    }
                } catch (StoreUnavailableException e) {
                    log.warn("cannot store the files of job {}: {}", id, e.getMessage());
                    failed.add(id);
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailableException("cannot list " + folders + ": " + e.getMessage(), e);
        }
        return new Copied(copied, before, active, failed);
    }

    /** The end of the job being copied (null: one that has not ended, waiting for a human), else now. */
    private static final class JobEndClock extends java.time.Clock {
        volatile java.time.Instant job;

        @Override
        public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
        }

        @Override
        public java.time.Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public java.time.Instant instant() {
            java.time.Instant t = job;
            return t != null ? t : java.time.Instant.now();
        }
    }

    /** Nothing of the job stored, or a copy of ours that did not finish. */
    private static boolean needsCopy(StoredFiles files, String id) {
        Optional<StoredFiles.Artifact> mark = files.artifact(id, MARK);
        if (mark.isPresent()) {
            return !java.util.Arrays.equals(mark.get().content(), DONE);
        }
        return files.artifacts(id).isEmpty() && files.loggedSteps(id).isEmpty();
    }
}
