package orchestrator.runner.workspace;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A finished job's changes as a commit and a pushed branch, for delivery. The commit is the job's (redacted)
 * {@code patch.diff} applied to the commit the workspace was cloned from, made in the runner's own git folder
 * (see {@link Workspace}): the workspace's {@code .git} is the agent's and nothing of its configuration runs. A
 * push authenticates with what {@code auth} puts in git's environment ({@code GIT_CONFIG_*}: an
 * {@code http.extraHeader}), never in a configuration file or the remote's URL.
 */
public final class BranchCommit {
    private BranchCommit() {
    }

    /**
     * @param message the commit message
     * @param author  name and email for the commit
     * @return the commit id, or null when the patch is empty (nothing to push) or the project is not a git clone
     */
    public static String commit(Path workspacesDir, String jobId, Path patch, String message, String authorName, String authorEmail,
                                Map<String, String> gitEnv) throws IOException {
        Path ws = workspacesDir.resolve(jobId);
        Path own = Workspaces.snapshotDir(workspacesDir, jobId);
        if (!Files.isRegularFile(patch, LinkOption.NOFOLLOW_LINKS) || Files.size(patch) == 0
                || !Files.isDirectory(own.resolve("objects"), LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        String base = clonedFrom(ws);
        if (base == null) {
            throw new WorkspaceException(jobId, "cannot tell which commit the workspace was cloned from (.git/logs/HEAD)", null);
        }
        Path index = Files.createTempFile(own, "deliver-", ".index");
        Files.delete(index); // git writes a new index; an empty file is not one
        try {
            Map<String, String> env = own(gitEnv, own);
            env.put("GIT_INDEX_FILE", index.toString());
            env.put("GIT_AUTHOR_NAME", authorName);
            env.put("GIT_AUTHOR_EMAIL", authorEmail);
            env.put("GIT_COMMITTER_NAME", authorName);
            env.put("GIT_COMMITTER_EMAIL", authorEmail);
            Git.run(jobId, own, env, null, "read-tree", base + "^{tree}");
            Git.run(jobId, own, env, null, "apply", "--cached", "--binary", "--whitespace=nowarn", patch.toAbsolutePath().toString());
            String tree = Git.run(jobId, own, env, null, "write-tree");
            return Git.run(jobId, own, env, null, "commit-tree", tree, "-p", base, "-m", message);
        } finally {
            Files.deleteIfExists(index);
        }
    }

    /**
     * Pushes {@code commit} as {@code refs/heads/<branch>} (forced: a continued job's new commit replaces the
     * last one on its own branch).
     *
     * @param auth git configuration for the push only, e.g. {@code http.extraHeader}; put into the environment
     */
    public static void push(Path workspacesDir, String jobId, String remote, String commit, String branch, Map<String, String> auth,
                            Map<String, String> gitEnv) {
        Path own = Workspaces.snapshotDir(workspacesDir, jobId);
        Map<String, String> env = own(gitEnv, own);
        int n = 0;
        for (Map.Entry<String, String> e : auth.entrySet()) {
            env.put("GIT_CONFIG_KEY_" + n, e.getKey());
            env.put("GIT_CONFIG_VALUE_" + n, e.getValue());
            n++;
        }
        env.put("GIT_CONFIG_COUNT", Integer.toString(n));
        Git.run(jobId, own, env, null, "push", "--quiet", "--no-verify", remote, "+" + commit + ":refs/heads/" + branch);
    }

    /** The {@code remote.origin.url} of the operator's project repository, or null. */
    public static String originOf(Path project, Map<String, String> gitEnv) {
        if (project == null || !Files.isDirectory(project.resolve(".git"))) {
            return null;
        }
        Map<String, String> env = new HashMap<>(gitEnv);
        env.put("GIT_CONFIG_NOSYSTEM", "1");
        env.put("GIT_CONFIG_GLOBAL", "/dev/null");
        try {
            String url = Git.run("-", project, env, null, "config", "--get", "remote.origin.url");
            if (url.isEmpty()) {
                return null;
            }
            // a relative path is the project's own; git would read it against the folder it runs in
            if (!url.contains("://") && !url.contains("@") && !Path.of(url).isAbsolute()) {
                return project.resolve(url).normalize().toString();
            }
            return url;
        } catch (WorkspaceException e) {
            return null;
        }
    }

    /**
     * The commit {@code git clone} checked out: the new id of the first line of the workspace's HEAD reflog,
     * read as a file (running git on the agent's repository would run its configuration).
     */
    static String clonedFrom(Path ws) throws IOException {
        Path log = ws.resolve(".git").resolve("logs").resolve("HEAD");
        if (!Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        List<String> lines;
        try (var r = Files.newBufferedReader(log, StandardCharsets.UTF_8)) {
            String first = r.readLine();
            lines = first == null ? List.of() : List.of(first);
        }
        if (lines.isEmpty()) {
            return null;
        }
        String[] parts = lines.get(0).split(" ");
        return parts.length > 1 && parts[1].matches("[0-9a-f]{40}|[0-9a-f]{64}") ? parts[1] : null;
    }

    private static Map<String, String> own(Map<String, String> gitEnv, Path own) {
        Map<String, String> env = new HashMap<>(gitEnv);
        env.put("GIT_DIR", own.toString());
        env.put("GIT_CONFIG_NOSYSTEM", "1");
        env.put("GIT_CONFIG_GLOBAL", "/dev/null");
        env.put("GIT_ATTR_NOSYSTEM", "1");
        env.put("GIT_TERMINAL_PROMPT", "0");
        return env;
    }
}
