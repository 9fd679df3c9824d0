package orchestrator.runner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import orchestrator.core.Ids;
import orchestrator.core.Json;
import orchestrator.core.OrchestratorException;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.core.store.StoredFiles;
import orchestrator.runner.artifact.JobArtifacts;
import orchestrator.runner.workspace.Workspace;
import orchestrator.runner.workspace.WorkspaceException;
import orchestrator.runner.workspace.WorkspaceSnapshots;
import orchestrator.runner.workspace.Workspaces;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job resumed on another host (PostgreSQL, no shared disk) goes on in the workspace its last run left, as it
 * does on one host. When a run ends in a state a job can be resumed or continued from, the runner stores a copy of
 * the workspace ({@link WorkspaceSnapshots}: the base commit plus a diff, or a zip of a plain folder) and a
 * manifest describing it under {@link StoredFiles#RUNNER_FILES}. A runner that leases the resumed job and whose
 * workspace of it is not that copy (none here, or an older one: the job ran elsewhere since) rebuilds the job's
 * folder from the stored artifacts and logs, and the workspace from the copy. What it cannot rebuild fails the job
 * with {@code workspace_restore}, naming why and the host that ran it last; it never goes on in a fresh workspace.
 *
 * <p>On SQLite (one host) there are no stored files and this does nothing.
 */
final class WorkspaceHandover {
    static final String MANIFEST = StoredFiles.RUNNER_FILES + "workspace.json";
    static final String PAYLOAD = StoredFiles.RUNNER_FILES + "workspace.payload";
    /** The error code of a resumed job whose workspace cannot be rebuilt on the host that leased it. */
    static final String ERROR_CODE = "workspace_restore";
    static final String STORED = "stored";
    private static final int LOG_READ_BYTES = 1024 * 1024;
    private static final Logger log = LoggerFactory.getLogger(WorkspaceHandover.class);

    /** The workspace of a resumed job cannot be rebuilt here: the job fails with {@link #ERROR_CODE}. */
    static final class RestoreFailed extends OrchestratorException {
        RestoreFailed(String jobId, String message) {
            super(jobId, message, null);
        }
    }

    /**
     * What the store says about a job's stored workspace.
     *
     * @param id        tells one stored copy from the next: a host's workspace that is this copy needs no rebuild
     * @param kind      {@code git} (base commit plus diff) or {@code folder} (zip)
     * @param status    {@value #STORED}, {@code too_big} or {@code failed}; {@code reason} says why it is not stored
     * @param endTree   the workspace's tree when the copy was taken (git), checked after a rebuild unless masked
     * @param masked    secret values were masked in the copy: the rebuilt workspace holds the mask in their place
     */
    record Manifest(String id, String kind, String status, String reason, String baseCommit, String baseTree, String endTree,
                    long payloadBytes, String payloadSha256, boolean masked, String runnerId, String host, String writtenAt) {
        /**
         * A stored manifest read back by the mapper that wrote it ({@link #take}: {@code Json.writePretty} of this
         * record), so both sides name the fields alike. One that is not JSON, not an object or has no id is refused.
         */
        static Manifest read(String jobId, byte[] content) {
            Manifest m;
            try {
                m = Json.read(new String(content, java.nio.charset.StandardCharsets.UTF_8), Manifest.class);
            } catch (IllegalArgumentException e) {
                throw unreadable(jobId, e.getMessage());
            }
            if (m == null || m.id() == null) {
                throw unreadable(jobId, m == null ? "it is null" : "it has no id");
            }
            return m;
        }

        private static RestoreFailed unreadable(String jobId, String why) {
            return new RestoreFailed(jobId, "the stored manifest of the job's workspace is not readable: " + why);
        }

        /** Where the job ran last, for a message: the host and the runner. */
        String where() {
            return "its last run was on host " + host + " (runner " + runnerId + "), whose workspace folder holds it";
        }
    }

    private final RunnerContext ctx;
    private final RunningJob job;
    private final String jobId;
    private final JobArtifacts artifacts;
    private final StoredFiles files;
    /** Job-folder files restored cut at {@code STORED_ARTIFACT_MAX_BYTES}: a patch among them cannot be applied. */
    private final Set<String> restoredCut = new HashSet<>();

    WorkspaceHandover(RunnerContext ctx, RunningJob job, JobArtifacts artifacts) {
        this.ctx = ctx;
        this.job = job;
        this.jobId = job.lease().jobId();
        this.artifacts = artifacts;
        this.files = ctx.shipping().files().orElse(null);
    }

    /** True on a store that keeps files for other hosts (PostgreSQL). */
    boolean active() {
        return files != null;
    }

    /** True when {@code path} (relative to the job's folder) was restored from a copy the store had cut. */
    boolean restoredCut(String path) {
        return restoredCut.contains(path);
    }

    private Path workspacesDir() {
        return ctx.core().workspacesDir();
    }

    // ------------------------------------------------------------------ a resumed run starts

    /**
     * The workspace a resumed run goes on in, when this host's is not the last one: rebuilt from the store, the
     * job's folder with it. Null when this host's workspace is the last one (or no copy was ever stored and this
     * host has a workspace: a run before copies were stored), to be reused as on one host.
     *
     * @throws RestoreFailed when the workspace cannot be rebuilt here
     */
    Workspace rebuildIfElsewhere(Path project) throws IOException {
        Manifest m = manifest().orElse(null);
        boolean here = Files.isDirectory(workspacesDir().resolve(jobId), java.nio.file.LinkOption.NOFOLLOW_LINKS);
        if (m == null) {
            if (here) {
                return null;
            }
            restoreJobFolder();
            throw new RestoreFailed(jobId, "no copy of the job's workspace is stored and this host has none; " + lastRunner()
                    + " (a run before runners stored copies, or one that could not store it)");
        }
        if (m.id().equals(WorkspaceSnapshots.keptId(workspacesDir(), jobId))) {
            return null;
        }
        log.info("this host's workspace is not the job's last one; rebuilding it from the store ({} copy by runner {} on host {})",
                m.kind(), m.runnerId(), m.host());
        restoreJobFolder();
        if (!STORED.equals(m.status())) {
            throw new RestoreFailed(jobId, "the job's workspace was not stored when its last run ended: " + m.reason() + "; " + m.where());
        }
        Path payload = null;
        try {
            if (m.payloadBytes() > 0) {
                StoredFiles.Artifact a = files.artifact(jobId, PAYLOAD).orElseThrow(() -> new RestoreFailed(jobId,
                        "the stored copy of the job's workspace is missing; " + m.where()));
                if (!sha256(a.content()).equals(m.payloadSha256())) {
                    throw new RestoreFailed(jobId, "the stored copy of the job's workspace does not match its manifest"
                            + " (its last store did not complete); " + m.where());
                }
                payload = Files.createTempFile(Files.createDirectories(workspacesDir()), ".restore-", ".payload");
                Files.write(payload, a.content());
            }
            Workspace ws;
            try {
                ws = "git".equals(m.kind())
                        ? WorkspaceSnapshots.restoreGit(workspacesDir(), jobId, project, ctx.childEnv(), m.baseCommit(), m.baseTree(),
                                payload, m.masked() ? null : m.endTree())
                        : WorkspaceSnapshots.restoreFolder(workspacesDir(), jobId, ctx.childEnv(), payload);
            } catch (WorkspaceException e) {
                throw new RestoreFailed(jobId, "cannot rebuild the job's workspace on this host: " + own(e) + "; " + m.where());
            } catch (IOException e) {
                throw new RestoreFailed(jobId, "cannot rebuild the job's workspace on this host: " + e + "; " + m.where());
            }
            WorkspaceSnapshots.keepId(workspacesDir(), jobId, m.id());
            String note = "workspace rebuilt from the copy stored by runner " + m.runnerId() + " on host " + m.host()
                    + (m.masked() ? "; secret values in it were masked when it was stored, and are masked in the workspace" : "");
            log.info("{}", note);
            audit(note);
            return ws;
        } finally {
            if (payload != null) {
                Files.deleteIfExists(payload);
            }
        }
    }

    private Optional<Manifest> manifest() {
        return files.artifact(jobId, MANIFEST).map(a -> Manifest.read(jobId, a.content()));
    }

    /** The runner that ran the job last, from its stored job.json, for a message when no manifest says it. */
    private String lastRunner() {
        try {
            return files.artifact(jobId, "job.json").map(a -> Json.parse(new String(a.content(), java.nio.charset.StandardCharsets.UTF_8)))
                    .map(n -> n.path("runner_id").asText(""))
                    .filter(s -> !s.isEmpty())
                    .map(r -> "its last run was by runner " + r)
                    .orElse("no runner that ran it is known");
        } catch (IllegalArgumentException e) {
            return "no runner that ran it is known";
        }
    }

    /**
     * The job's folder as the store holds it: every stored artifact (the earlier steps' results, reports and
     * patches, context.json, state.json, …) but this run's own job.json, and every step's stored log. All of it was
     * masked by the runner that stored it. A file the store had cut is restored cut, and remembered.
     */
    private void restoreJobFolder() throws IOException {
        artifacts.createFolders();
        int restored = 0;
        for (StoredFiles.ArtifactInfo info : files.artifacts(jobId)) {
            String path = info.path();
            if (path.startsWith(StoredFiles.RUNNER_FILES) || path.equals("job.json")) {
                continue;
            }
            Path target = safeTarget(path);
            if (target == null) {
                log.warn("stored artifact {} is not a plain path inside the job's folder; not restored", path);
                continue;
            }
            Optional<StoredFiles.Artifact> a = files.artifact(jobId, path);
            if (a.isEmpty()) {
                continue; // deleted meanwhile (retention)
            }
            artifacts.write(target, a.get().content());
            if (info.cut()) {
                restoredCut.add(path);
            }
            restored++;
        }
        for (StoredFiles.LoggedStep s : files.loggedSteps(jobId)) {
            if (!plainName(s.stepId())) {
                continue;
            }
            Path target = artifacts.stepFolder(s.stepId()).resolve("logs.txt");
            JobArtifacts.writeAtomically(target, out -> {
                long offset = 0;
                while (true) {
                    Optional<StoredFiles.LogRead> r = files.readLog(jobId, s.stepId(), offset, LOG_READ_BYTES);
                    if (r.isEmpty()) {
                        return;
                    }
                    out.write(r.get().bytes());
                    offset = r.get().nextOffset();
                    if (!r.get().more() || r.get().bytes().length == 0) {
                        return;
                    }
                }
            });
            artifacts.written(target);
            restored++;
        }
        if (!restoredCut.isEmpty()) {
            log.warn("restored cut at STORED_ARTIFACT_MAX_BYTES (the store keeps no more of them): {}", restoredCut);
        }
        log.info("restored {} file(s) of the job's folder from the store", restored);
    }

    /** The local file for a stored path: each folder on the way a real folder ({@link JobArtifacts#folder}), or null. */
    private Path safeTarget(String path) throws IOException {
        String[] parts = path.split("/", -1);
        Path dir = artifacts.root();
        for (int i = 0; i < parts.length; i++) {
            if (!plainName(parts[i])) {
                return null;
            }
            if (i < parts.length - 1) {
                dir = dir.resolve(parts[i]);
                JobArtifacts.folder(dir);
            }
        }
        return dir.resolve(parts[parts.length - 1]);
    }

    private static boolean plainName(String s) {
        return !s.isEmpty() && !s.equals(".") && !s.equals("..") && !s.contains("/") && !s.contains("\\") && !s.contains("\0");
    }

    // ------------------------------------------------------------------ a run ends

    /**
     * What a later run on another host needs to go on in this workspace: the copy, if there is one, and its manifest,
     * to be stored in one transaction (with the job's end files: {@code StoreShipping.Job.jobEnded}), then
     * {@link #stored}. A copy that cannot be made or is over {@code WORKSPACE_SNAPSHOT_MAX_BYTES} is not stored:
     * the manifest says why, and {@link #stored} has the log and the job's events say so too, so that a resume
     * elsewhere fails naming it.
     */
    record Copy(Manifest manifest, List<StoredFiles.Upload> uploads) {
    }

    /** Takes the copy of {@link Copy}; nothing is stored yet. An empty plain folder costs no file. */
    Copy take(Workspace ws, String baseTree, UnaryOperator<String> mask) throws IOException {
        long cap = ctx.config().output().workspaceSnapshotMaxBytes();
        String kind = ws.git() ? "git" : "folder";
        String baseCommit = ws.git() ? ws.savedBaseCommit() : null;
        Path out = null;
        try {
            String status = STORED;
            String reason = null;
            WorkspaceSnapshots.Taken t = null;
            byte[] payload = new byte[0];
            try {
                if (!ws.git() && WorkspaceSnapshots.emptyFolder(ws)) {
                    t = WorkspaceSnapshots.NOTHING; // a job without a project that wrote nothing: the common case
                } else {
                    // in the runner's own folder of the job, which retention deletes with the workspace: a crash leaves nothing behind
                    out = Files.createTempFile(Files.createDirectories(Workspaces.snapshotDir(workspacesDir(), jobId)), "outgoing-", ".payload");
                    t = ws.git() ? WorkspaceSnapshots.takeGit(ws, baseTree, out, cap, mask) : WorkspaceSnapshots.takeFolder(ws, out, cap, mask);
                }
                if (t.tooBig()) {
                    status = "too_big";
                    reason = "its copy (" + (ws.git() ? "a diff" : "a zip of the folder") + ", "
                            + (t.bytes() > cap ? t.bytes() + " bytes" : "more than " + cap + " bytes")
                            + ") is over WORKSPACE_SNAPSHOT_MAX_BYTES (" + cap + ")";
                } else if (ws.git() && (baseCommit == null || baseTree == null)) {
                    status = "failed";
                    reason = "the commit the job started from is not known (the job started on an older runner, or the project had no commit)";
                } else if (t.bytes() > 0) {
                    payload = Files.readAllBytes(out);
                }
            } catch (WorkspaceException | IOException e) {
                // a manifest is stored all the same: an older one left in place would pass for this run's workspace
                status = "failed";
                reason = "the workspace could not be copied: " + (e instanceof WorkspaceException w ? own(w) : e.toString());
                payload = new byte[0];
            }
            if (reason != null) {
                reason = mask.apply(reason); // it goes into the store and the job's events
            }
            Manifest m = new Manifest(Ids.randomHex(16), kind, status, reason, baseCommit, baseTree, t == null ? null : t.endTree(),
                    payload.length, payload.length == 0 ? null : sha256(payload), t != null && t.masked(), ctx.runnerId(),
                    Runner.hostname(), ctx.clock().instant().toString());
            List<StoredFiles.Upload> uploads = new java.util.ArrayList<>();
            if (payload.length > 0) {
                uploads.add(new StoredFiles.Upload(PAYLOAD, payload, payload.length));
            }
            byte[] manifest = Json.writePretty(m).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            uploads.add(new StoredFiles.Upload(MANIFEST, manifest, manifest.length));
            return new Copy(m, List.copyOf(uploads));
        } finally {
            if (out != null) {
                Files.deleteIfExists(out);
            }
        }
    }

    /**
     * The copy is stored ({@code together}: with the job's end files), or is stored now, waiting out a store that
     * is briefly away as the job's finish does; then this host notes which copy its workspace is, and a copy not
     * stored is named in the log and the job's events.
     */
    void stored(Copy copy, boolean together) throws InterruptedException {
        if (!together) {
            put(copy.uploads());
        }
        Manifest m = copy.manifest();
        try {
            WorkspaceSnapshots.keepId(workspacesDir(), jobId, m.id());
        } catch (IOException e) {
            // the next resume here rebuilds from the store instead of reusing this workspace: slower, not wrong
            log.warn("cannot note which stored copy this host's workspace is: {}", e.toString());
        }
        if (!STORED.equals(m.status())) {
            String note = "the workspace was not stored for other hosts: " + m.reason() + "; the job can be resumed on this host only";
            log.warn("{}", note);
            audit(note);
        } else if (m.masked()) {
            log.warn("secret values were masked in the stored copy of the workspace: a resume on another host sees the mask");
        }
    }

    /**
     * The copy and its manifest in one transaction (a reader never finds one without the other), retried while the
     * store is away for up to twice the lease's life (then the lease is left to expire). Never cut (under
     * {@link StoredFiles#RUNNER_FILES}): the copy's size was checked against its own cap.
     */
    private void put(List<StoredFiles.Upload> uploads) throws InterruptedException {
        long deadline = System.nanoTime() + ctx.core().leaseTtl().multipliedBy(2).toNanos();
        long backoffMs = 100;
        while (true) {
            try {
                files.putArtifacts(jobId, uploads, 0);
                return;
            } catch (StoreUnavailableException e) {
                if (System.nanoTime() - deadline >= 0 || job.lost()) {
                    throw e;
                }
                log.warn("store unavailable while storing the workspace's copy; retrying: {}", e.getMessage());
            }
            backoffMs = job.backOff(backoffMs);
        }
    }

    /** An event in the job's audit trail; a store that is away costs the event only, not the job. */
    private void audit(String note) {
        try {
            ctx.store().audit(jobId, ctx.runnerId(), note);
        } catch (StoreUnavailableException e) {
            log.warn("cannot record in the job's events ({}): {}", e.getMessage(), note);
        }
    }

    /** A workspace error's message without the "job <id>: " it starts with: ours adds it once. */
    private String own(WorkspaceException e) {
        String prefix = "job " + jobId + ": ";
        String msg = e.getMessage();
        return msg != null && msg.startsWith(prefix) ? msg.substring(prefix.length()) : msg;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The states whose job a later run resumes or continues (JobStore's approve and continue accept them). */
    static boolean resumable(orchestrator.core.job.JobState s) {
        return List.of(orchestrator.core.job.JobState.NEEDS_HUMAN, orchestrator.core.job.JobState.SUCCEEDED,
                orchestrator.core.job.JobState.FAILED, orchestrator.core.job.JobState.CANCELLED).contains(s);
    }
}
