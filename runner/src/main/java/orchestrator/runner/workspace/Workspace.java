package orchestrator.runner.workspace;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import orchestrator.runner.artifact.JobArtifacts;

/**
 * A job's working folder. For a git workspace, {@link #snapshot()} records the whole tree
 * (tracked, modified and new files) as a git tree object through a private index file, so the
 * agent's own index and history stay untouched and no commit identity is needed; the diff of two
 * snapshots is exactly what one step changed.
 */
public record Workspace(String jobId, Path dir, boolean git, Map<String, String> gitEnv) {
    /** Private index inside .git: git ignores .git when adding, so it never shows up in a patch. */
    static final String SNAPSHOT_INDEX = "orch-snapshot-index";

    public Workspace {
        gitEnv = Map.copyOf(gitEnv);
    }

    /** The tree id of the workspace as it is now, or null for a workspace without git. */
    public String snapshot() {
        if (!git) {
            return null;
        }
        Map<String, String> env = new HashMap<>(gitEnv);
        Path index = dir.resolve(".git").resolve(SNAPSHOT_INDEX);
        env.put("GIT_INDEX_FILE", index.toString());
        if (!Files.exists(index)) {
            // start from HEAD so unchanged files keep their blobs; an empty repository has no HEAD
            if (hasHead(env)) {
                Git.run(jobId, dir, env, null, "read-tree", "HEAD");
            } else {
                Git.run(jobId, dir, env, null, "read-tree", "--empty");
            }
        }
        Git.run(jobId, dir, env, null, "add", "-A");
        return Git.run(jobId, dir, env, null, "write-tree");
    }

    private boolean hasHead(Map<String, String> env) {
        try {
            Git.run(jobId, dir, env, null, "rev-parse", "--verify", "-q", "HEAD");
            return true;
        } catch (WorkspaceException e) {
            return false;
        }
    }

    /** Where the tree the job started from is kept, so a resumed or continued run's patch covers the whole job. */
    static final String BASE_FILE = "orch-base-tree";

    /** Remembers the tree the job started from (a git workspace only). */
    public void saveBase(String tree) throws IOException {
        if (git && tree != null) {
            JobArtifacts.writeAtomically(dir.resolve(".git").resolve(BASE_FILE), tree + "\n");
        }
    }

    /**
     * The tree the job started from, as {@link #saveBase} kept it, or null. The file sits where the agent
     * can write, so only a well-formed object id is taken: at worst an agent skews its own job's patch.
     */
    public String savedBase() {
        Path f = dir.resolve(".git").resolve(BASE_FILE);
        try {
            String id = git && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? Files.readString(f).strip() : "";
            return id.matches("[0-9a-f]{40}|[0-9a-f]{64}") ? id : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Writes {@code git diff} between two snapshots to {@code target} atomically; an empty file without git. */
    public void writeDiff(String fromTree, String toTree, Path target) throws IOException {
        if (!git || fromTree == null || toTree == null) {
            JobArtifacts.writeAtomically(target, "");
            return;
        }
        Path tmp = JobArtifacts.temporaryFor(target);
        try {
            Git.run(jobId, dir, gitEnv, tmp, "diff", "--binary", "--no-color", "--no-ext-diff", fromTree, toTree);
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
        Map<String, String> env = new HashMap<>(gitEnv);
        env.put("GIT_INDEX_FILE", dir.resolve(".git").resolve(SNAPSHOT_INDEX).toString());
        Git.run(jobId, dir, env, null, "read-tree", "--reset", "-u", tree);
    }

    /** Applies a patch to the working tree; a patch that does not apply changes nothing and throws. */
    public void apply(Path patch) {
        Git.run(jobId, dir, gitEnv, null, "apply", "--binary", "--whitespace=nowarn", patch.toString());
    }
}
