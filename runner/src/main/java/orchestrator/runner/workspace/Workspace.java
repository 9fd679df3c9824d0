package orchestrator.runner.workspace;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import orchestrator.runner.artifact.JobArtifacts;

/**
 * A job's working folder. For a git workspace, {@link #snapshot()} records the whole tree
 * (tracked, modified and new files) as a git tree object, so the agent's own index and history
 * stay untouched and no commit identity is needed; the diff of two snapshots is exactly what one
 * step changed.
 *
 * <p>Every git command the runner runs after the agent started uses a git folder of the runner's own
 * ({@link #snapshotDir}, outside the workspace) with the workspace as its work tree: the workspace's
 * {@code .git} is the agent's to write, and a {@code core.fsmonitor}, hook, {@code clean}/{@code smudge}
 * filter or {@code textconv} driver set there would otherwise run as the runner, outside the sandbox
 * wrapper, the rlimits and the step's kill net. Our git folder has none of them and reads no global or
 * system configuration; the workspace's objects are only borrowed (alternates) to save disk.
 */
public record Workspace(String jobId, Path dir, boolean git, Map<String, String> gitEnv) {
    /** The runner's git folders, one per job, beside the workspaces (a dot folder: no job id). */
    static final String SNAPSHOTS = ".snapshots";
    /** Where the tree the job started from is kept, so a resumed or continued run's patch covers the whole job. */
    static final String BASE_FILE = "orch-base-tree";
    /** The commit the job's clone started at (PostgreSQL: another host rebuilds the workspace from it). */
    static final String BASE_COMMIT_FILE = "orch-base-commit";

    public Workspace {
        gitEnv = Map.copyOf(gitEnv);
    }

    /** The runner's own git folder for this job's snapshots: never inside the workspace. */
    public Path snapshotDir() {
        return dir.getParent().resolve(SNAPSHOTS).resolve(jobId);
    }

    /** Git's environment for a command on the runner's git folder with the workspace as work tree. */
    private Map<String, String> ownGit() {
        Map<String, String> env = new HashMap<>(gitEnv);
        Path own = snapshotDir();
        env.put("GIT_DIR", own.toString());
        env.put("GIT_WORK_TREE", dir.toString());
        env.put("GIT_INDEX_FILE", own.resolve("index").toString());
        env.put("GIT_CONFIG_NOSYSTEM", "1");
        env.put("GIT_CONFIG_GLOBAL", "/dev/null");
        env.put("GIT_ATTR_NOSYSTEM", "1");
        return env;
    }

    /** Creates the runner's git folder when missing: a bare repository borrowing the workspace's objects. */
    private void ownGitFolder() {
        Path own = snapshotDir();
        if (Files.isDirectory(own.resolve("objects"), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Map<String, String> env = new HashMap<>(gitEnv);
        env.put("GIT_CONFIG_NOSYSTEM", "1");
        env.put("GIT_CONFIG_GLOBAL", "/dev/null");
        try {
            Files.createDirectories(own.getParent());
            Git.run(jobId, own.getParent(), env, null, "init", "--quiet", "--bare", "--template=", own.toString());
            Path objects = dir.resolve(".git").resolve("objects");
            if (Files.isDirectory(objects)) {
                Path info = Files.createDirectories(own.resolve("objects").resolve("info"));
                JobArtifacts.writeAtomically(info.resolve("alternates"), objects.toAbsolutePath() + "\n");
            }
        } catch (IOException e) {
            throw new WorkspaceException(jobId, "cannot create the runner's git folder " + own + ": " + e.getMessage(), e);
        }
    }

    /** The tree id of the workspace as it is now, or null for a workspace without git. */
    public String snapshot() {
        if (!git) {
            return null;
        }
        ownGitFolder();
        Map<String, String> env = ownGit();
        Git.run(jobId, dir, env, null, "add", "-A");
        return Git.run(jobId, dir, env, null, "write-tree");
    }

    /** Remembers the tree the job started from (a git workspace only), in the runner's own git folder. */
    public void saveBase(String tree) throws IOException {
        if (git && tree != null) {
            ownGitFolder();
            JobArtifacts.writeAtomically(snapshotDir().resolve(BASE_FILE), tree + "\n");
        }
    }

    /** The tree the job started from, as {@link #saveBase} kept it, or null; only a well-formed object id is taken. */
    public String savedBase() {
        return ObjectIds.read(git ? snapshotDir().resolve(BASE_FILE) : null);
    }

    /** True when {@link #writeDiff} has two snapshots to diff: otherwise it writes an empty file. */
    public boolean diffs(String fromTree, String toTree) {
        return git && fromTree != null && toTree != null;
    }

    /** Writes {@code git diff} between two snapshots to {@code target} atomically; an empty file without git. */
    public void writeDiff(String fromTree, String toTree, Path target) throws IOException {
        if (!diffs(fromTree, toTree)) {
            JobArtifacts.writeAtomically(target, "");
            return;
        }
        Path tmp = JobArtifacts.temporaryFor(target);
        try {
            Git.run(jobId, dir, ownGit(), tmp, "diff", "--binary", "--no-color", "--no-ext-diff", "--no-textconv", fromTree, toTree);
            JobArtifacts.moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Puts the working tree back to the snapshot {@code tree} (patch_first: a step starts from the
     * job's base plus the patches it asked for). Files a step added are in the private snapshot
     * index, so they are removed too.
     */
    public void resetTo(String tree) {
        Git.run(jobId, dir, ownGit(), null, "read-tree", "--reset", "-u", tree);
    }

    /** Applies a patch to the working tree; a patch that does not apply changes nothing and throws. */
    public void apply(Path patch) {
        Git.run(jobId, dir, ownGit(), null, "apply", "--binary", "--whitespace=nowarn", patch.toString());
    }

    /**
     * The commit the fresh clone's {@code HEAD} is at, or null (not a repository, no commit yet). Asked of the
     * workspace's own {@code .git}: only right after {@link Workspaces#prepare} cloned it, before any agent ran,
     * when that folder is still the runner's clone and holds no configuration of an agent's.
     */
    public String cloneHead() {
        if (!git) {
            return null;
        }
        try {
            String id = Git.run(jobId, dir, gitEnv, null, "rev-parse", "--verify", "--quiet", "HEAD^{commit}");
            return ObjectIds.valid(id) ? id : null;
        } catch (WorkspaceException e) {
            return null; // an empty repository: no commit to start from
        }
    }

    /** Remembers the commit the job started from (a git workspace only), beside {@link #saveBase}'s tree. */
    public void saveBaseCommit(String commit) throws IOException {
        if (git && ObjectIds.valid(commit)) {
            ownGitFolder();
            JobArtifacts.writeAtomically(snapshotDir().resolve(BASE_COMMIT_FILE), commit + "\n");
        }
    }

    /** The commit {@link #saveBaseCommit} kept, or null. */
    public String savedBaseCommit() {
        return ObjectIds.read(git ? snapshotDir().resolve(BASE_COMMIT_FILE) : null);
    }
}
