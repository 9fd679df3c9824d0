package orchestrator.runner.workspace;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import orchestrator.runner.artifact.JobArtifacts;

/**
 * Prepares {@code $ORCH_HOME/workspaces/<job_id>/}: a {@code git clone --local --no-hardlinks} of the
 * project's folder when it is a repository (no hard links: an agent editing a file must never edit
 * the source repository's objects), a copy when it is a plain folder, otherwise an empty folder.
 * A symlink that points outside the project is refused: through it an agent could read or write
 * anything the runner can.
 */
public final class Workspaces {
    private Workspaces() {
    }

    /**
     * @param project the project's folder, or null
     * @param reuse   keep an existing workspace (a job resumed after a human answered)
     */
    public static Workspace prepare(Path workspacesDir, String jobId, Path project, boolean reuse, Map<String, String> gitEnv) {
        Path dir = workspacesDir.resolve(jobId);
        try {
            if (reuse && Files.isDirectory(dir)) {
                return new Workspace(jobId, dir, Files.isDirectory(dir.resolve(".git")), gitEnv);
            }
            deleteTree(dir);
            deleteTree(snapshotDir(workspacesDir, jobId));
            deleteAgentState(workspacesDir, jobId);
            if (project == null || !Files.isDirectory(project)) {
                JobArtifacts.folder(dir);
                return new Workspace(jobId, dir, false, gitEnv);
            }
            Files.createDirectories(workspacesDir);
            Path src = project.toRealPath();
            if (Files.exists(src.resolve(".git"))) {
                Git.run(jobId, workspacesDir, gitEnv, null, "clone", "--quiet", "--local", "--no-hardlinks", src.toString(), dir.toString());
                checkSymlinks(jobId, dir, dir.toRealPath());
                return new Workspace(jobId, dir, true, gitEnv);
            }
            checkSymlinks(jobId, src, src);
            copyTree(src, dir);
            return new Workspace(jobId, dir, false, gitEnv);
        } catch (IOException e) {
            throw new WorkspaceException(jobId, "cannot prepare workspace " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Fails on the first symlink under {@code tree} whose target resolves outside {@code root}. */
    static void checkSymlinks(String jobId, Path tree, Path root) throws IOException {
        try (Stream<Path> all = Files.walk(tree)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                if (!Files.isSymbolicLink(p)) {
                    continue;
                }
                Path target = p.getParent().resolve(Files.readSymbolicLink(p)).normalize();
                Path real = target;
                if (Files.exists(target)) {
                    real = target.toRealPath();
                }
                if (!real.startsWith(root)) {
                    throw new WorkspaceException(jobId, "symlink " + root.relativize(p.toAbsolutePath().normalize())
                            + " points outside the project (" + Files.readSymbolicLink(p) + "); refused", null);
                }
            }
        }
    }

    private static void copyTree(Path src, Path dst) throws IOException {
        Files.walkFileTree(src, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(dst.resolve(src.relativize(d).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                Path to = dst.resolve(src.relativize(f).toString());
                if (attrs.isSymbolicLink()) {
                    // already checked to stay inside; an absolute link is made relative so that it
                    // points into the copy, not back into the project
                    Path link = Files.readSymbolicLink(f);
                    if (link.isAbsolute()) {
                        Path inside = src.relativize(f.getParent().resolve(link).normalize());
                        link = to.getParent().relativize(dst.resolve(inside.toString()));
                    }
                    Files.createSymbolicLink(to, link);
                } else if (attrs.isRegularFile()) {
                    Files.copy(f, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                }
                // sockets, fifos and devices are skipped: an agent has no use for them
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** The runner's own git folder of a job's workspace (see {@link Workspace}), for retention to delete with it. */
    public static Path snapshotDir(Path workspacesDir, String jobId) {
        return workspacesDir.resolve(Workspace.SNAPSHOTS).resolve(jobId);
    }

    /** The agents' own state, one folder per job beside the workspaces (a dot folder: no job id). */
    static final String AGENTS = ".agents";

    /**
     * Where a CLI keeps its own state of one job ({@link orchestrator.runner.agent.AgentAdapter#jobState}):
     * opencode's session database, gemini's home. It lives as long as the job's workspace (a continued job resumes the
     * session in it) and goes with it. Never inside the workspace (it would be in the patch) nor the
     * runner's git folder (an agent's file there would be git's).
     */
    public static Path agentStateDir(Path workspacesDir, String jobId) {
        return workspacesDir.resolve(AGENTS).resolve(jobId);
    }

    /** In a job's {@link #agentStateDir}: the paths outside it where a CLI keeps files of this job alone ({@link #recordOutside}). */
    static final String OUTSIDE = "outside.txt";

    /**
     * Notes that {@code path}, outside the job's own folders, holds files of this job alone that a CLI keeps in
     * its user's home (claude's transcript folder of the workspace, codex's rollout of the job's session):
     * {@link #deleteAgentState} deletes it with the job's agent state, so that a job's prompts and the code
     * its agent read do not outlive its workspace there. Written atomically (temporary file, rename).
     */
    public static void recordOutside(Path workspacesDir, String jobId, Path path) throws IOException {
        Path dir = agentStateDir(workspacesDir, jobId);
        orchestrator.runner.agent.AgentAdapter.stateFolder(dir);
        Path list = dir.resolve(OUTSIDE);
        Path p = path.toAbsolutePath().normalize();
        if (!namesTheJob(p, jobId)) {
            throw new IOException("not a file of job " + jobId + " alone: " + p);
        }
        java.util.LinkedHashSet<String> paths = new java.util.LinkedHashSet<>(outside(list));
        if (paths.add(p.toString())) {
            Path tmp = dir.resolve(OUTSIDE + ".tmp");
            Files.writeString(tmp, String.join("\n", paths) + "\n");
            Files.move(tmp, list, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /**
     * The only names {@link #recordOutside} takes and {@link #deleteAgentState} deletes, so that a line an agent
     * wrote into the list cannot make retention delete anything else: a folder named after the job's workspace
     * (ending in {@code -<job id>}, as claude names it) or a session file {@code rollout-*.jsonl} (codex's).
     */
    static boolean namesTheJob(Path p, String jobId) {
        if (!p.isAbsolute() || p.getFileName() == null || p.getNameCount() < 2) {
            return false;
        }
        String name = p.getFileName().toString();
        return name.endsWith("-" + jobId) || name.startsWith("rollout-") && name.endsWith(".jsonl");
    }

    private static java.util.List<String> outside(Path list) throws IOException {
        if (!Files.isRegularFile(list, LinkOption.NOFOLLOW_LINKS)) {
            return java.util.List.of();
        }
        return Files.readAllLines(list).stream().filter(l -> l.startsWith("/")).toList();
    }

    /**
     * Deletes a job's agent state folder and, first, what {@link #recordOutside} noted for it (links removed,
     * never followed). A noted path that is gone already is no error.
     */
    public static void deleteAgentState(Path workspacesDir, String jobId) throws IOException {
        Path dir = agentStateDir(workspacesDir, jobId);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        for (String p : outside(dir.resolve(OUTSIDE))) {
            Path noted = Path.of(p).normalize();
            if (namesTheJob(noted, jobId)) {
                deleteTree(noted);
            }
        }
        deleteTree(dir);
    }

    /** The agents' temporary folders, one per running job, beside the workspaces (a dot folder: no job id). */
    static final String TMP = ".tmp";

    /** Where {@link #freshTmp} puts a job's step's temporary folder. */
    public static Path tmpDir(Path workspacesDir, String jobId) {
        return workspacesDir.resolve(TMP).resolve(jobId);
    }

    /**
     * A step's own temporary folder (its {@code TMPDIR}), empty and readable by the runner's user only: what an
     * agent leaves in a temporary file (gemini's error report holds the whole prompt) is neither in the shared
     * {@code /tmp} for other users to read nor kept after the step ({@link #deleteTmp}). Never inside the
     * workspace (it would be in the patch) nor the runner's git folder (an agent's file there would be git's).
     */
    public static Path freshTmp(Path workspacesDir, String jobId) throws IOException {
        Path dir = tmpDir(workspacesDir, jobId);
        deleteTree(dir); // a crashed run's
        Files.createDirectories(dir.getParent());
        return Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
    }

    /** Removes a step's temporary folder and whatever the agent left in it (links removed, never followed). */
    public static void deleteTmp(Path workspacesDir, String jobId) throws IOException {
        deleteTree(tmpDir(workspacesDir, jobId));
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
