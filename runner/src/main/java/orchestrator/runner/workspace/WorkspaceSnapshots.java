package orchestrator.runner.workspace;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Enumeration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import orchestrator.runner.artifact.JobArtifacts;

/**
 * A workspace as another host can rebuild it (PostgreSQL, no shared disk). A git workspace is the commit the
 * job's clone started at plus {@code git diff --binary} from the job's base tree to the workspace's tree now:
 * tracked, modified and new files, the same snapshot {@code patch.diff} is made of (files the project's
 * {@code .gitignore} ignores are in neither). A plain folder is a zip of all of it. Either copy is masked with
 * the runner's redaction before it leaves the host, as {@code patch.diff} is, and is refused above a cap rather
 * than cut: a cut copy would rebuild a workspace that silently lacks changes.
 *
 * <p>Which copy a host's workspace is, is kept in the runner's own git folder of the job ({@link #keptId}): a host
 * whose workspace is not the copy the store holds last (it ran the job before another host did) rebuilds it.
 */
public final class WorkspaceSnapshots {
    /** The id of the stored copy this host's workspace is (written or rebuilt from), beside the base tree. */
    static final String ID_FILE = "orch-snapshot-id";
    /** Zip entry comments: what an entry stands for besides a plain file. */
    static final String EXECUTABLE = "x";
    static final String LINK = "l";

    private WorkspaceSnapshots() {
    }

    /**
     * What {@link #takeGit}/{@link #takeFolder} made.
     *
     * @param endTree the workspace's tree now (git), or null
     * @param bytes   the copy's size in {@code target}; 0 when there is nothing to copy (no change, an empty folder)
     * @param masked  true when a secret value (or what looks like a key) was masked in the copy
     * @param tooBig  true when the copy passed the cap: {@code target} holds nothing usable
     */
    public record Taken(String endTree, long bytes, boolean masked, boolean tooBig) {
    }

    /** The copy of an empty folder: nothing. */
    public static final Taken NOTHING = new Taken(null, 0, false, false);

    /** True when a plain folder workspace holds nothing (a job without a project that wrote nothing: the common case). */
    public static boolean emptyFolder(Workspace ws) throws IOException {
        try (java.util.stream.Stream<Path> entries = Files.list(ws.dir())) {
            return entries.findAny().isEmpty();
        }
    }

    /** The diff from {@code baseTree} to the workspace now into {@code target}, masked; nothing when they are equal. */
    public static Taken takeGit(Workspace ws, String baseTree, Path target, long capBytes, UnaryOperator<String> mask) throws IOException {
        String end = ws.snapshot();
        if (end == null || end.equals(baseTree)) {
            return new Taken(end, 0, false, false);
        }
        ws.writeDiff(baseTree, end, target);
        long size = Files.size(target);
        if (size > capBytes) {
            return new Taken(end, size, false, true);
        }
        // ISO-8859-1 maps every byte to one char and back: a binary hunk comes out byte for byte but for a mask
        String text = new String(Files.readAllBytes(target), StandardCharsets.ISO_8859_1);
        String clean = mask.apply(text);
        boolean masked = !clean.equals(text);
        if (masked) {
            JobArtifacts.writeAtomically(target, clean.getBytes(StandardCharsets.ISO_8859_1));
            size = Files.size(target);
        }
        return new Taken(end, size, masked, size > capBytes);
    }

    /**
     * The whole folder as a zip into {@code target}, each file masked; links are kept as links (entry comment
     * {@value #LINK}, the target as content), the executable bit as comment {@value #EXECUTABLE}. Other kinds of
     * file (sockets, fifos) are left out, as the copy of a project leaves them out.
     */
    public static Taken takeFolder(Workspace ws, Path target, long capBytes, UnaryOperator<String> mask) throws IOException {
        Path root = ws.dir();
        if (emptyFolder(ws)) {
            return NOTHING;
        }
        boolean[] state = {false, false}; // masked, too big
        boolean[] any = {false};
        try (CountingStream counted = new CountingStream(Files.newOutputStream(target));
             ZipOutputStream zip = new ZipOutputStream(counted)) {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                    if (!d.equals(root)) {
                        zip.putNextEntry(new ZipEntry(name(root, d) + "/"));
                        zip.closeEntry();
                        any[0] = true;
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                    ZipEntry e = new ZipEntry(name(root, f));
                    byte[] content;
                    if (attrs.isSymbolicLink()) {
                        e.setComment(LINK);
                        content = Files.readSymbolicLink(f).toString().getBytes(StandardCharsets.UTF_8);
                    } else if (attrs.isRegularFile()) {
                        if (attrs.size() > capBytes) {
                            state[1] = true;
                            return FileVisitResult.TERMINATE;
                        }
                        String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                        String clean = mask.apply(text);
                        state[0] |= !clean.equals(text);
                        content = clean.getBytes(StandardCharsets.ISO_8859_1);
                        if (Files.isExecutable(f)) {
                            e.setComment(EXECUTABLE);
                        }
                    } else {
                        return FileVisitResult.CONTINUE;
                    }
                    zip.putNextEntry(e);
                    zip.write(content);
                    zip.closeEntry();
                    any[0] = true;
                    if (counted.count > capBytes) {
                        state[1] = true;
                        return FileVisitResult.TERMINATE;
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        long size = Files.size(target);
        return new Taken(null, any[0] ? size : 0, state[0], state[1] || size > capBytes);
    }

    private static String name(Path root, Path p) {
        return root.relativize(p).toString().replace('\\', '/');
    }

    /**
     * Rebuilds a git workspace: a fresh clone of {@code project} reset to {@code commit}, checked to hold
     * {@code baseTree}, with {@code diff} (or nothing) applied on top, checked to give {@code endTree} when that
     * is not null (a masked copy cannot give the tree it was taken from).
     *
     * @throws WorkspaceException naming what is missing: the repository, the commit, the tree, or a diff that
     *                            does not apply
     */
    public static Workspace restoreGit(Path workspacesDir, String jobId, Path project, Map<String, String> gitEnv,
                                       String commit, String baseTree, Path diff, String endTree) throws IOException {
        if (project == null || !Files.exists(project.resolve(".git"))) {
            throw new WorkspaceException(jobId, "the job's project is " + (project == null ? "not set on this host"
                    : project + ", not a git repository on this host") + "; its workspace was a clone of one", null);
        }
        if (!ObjectIds.valid(commit) || !ObjectIds.valid(baseTree)) {
            throw new WorkspaceException(jobId, "the commit the job started from was not recorded", null);
        }
        Workspace ws = Workspaces.prepare(workspacesDir, jobId, project, false, gitEnv);
        if (!ws.git()) {
            throw new WorkspaceException(jobId, "the clone of " + project + " is not a git repository", null);
        }
        try {
            // the fresh clone's own .git: no agent ran in it yet, it holds the runner's clone only
            Git.run(jobId, ws.dir(), gitEnv, null, "cat-file", "-e", commit + "^{commit}");
        } catch (WorkspaceException e) {
            throw new WorkspaceException(jobId, "the job's base commit " + commit + " is not in the project's repository on this host ("
                    + project + "); fetch it there (git fetch) or resume the job on a host that has it", e);
        }
        Git.run(jobId, ws.dir(), gitEnv, null, "reset", "--quiet", "--hard", commit);
        String tree = ws.snapshot();
        if (!baseTree.equals(tree)) {
            throw new WorkspaceException(jobId, "commit " + commit + " of " + project + " gives tree " + tree
                    + ", not the tree " + baseTree + " the job started from", null);
        }
        ws.saveBase(baseTree);
        ws.saveBaseCommit(commit);
        if (diff != null) {
            try {
                ws.apply(diff);
            } catch (WorkspaceException e) {
                throw new WorkspaceException(jobId, "the stored changes of the workspace do not apply to commit " + commit + ": " + e.getMessage(), e);
            }
            if (endTree != null) {
                String after = ws.snapshot();
                if (!endTree.equals(after)) {
                    throw new WorkspaceException(jobId, "the rebuilt workspace has tree " + after + ", not the stored " + endTree, null);
                }
            }
        }
        return ws;
    }

    /** Rebuilds a plain-folder workspace from the zip {@link #takeFolder} made, or an empty one for {@code zip} null. */
    public static Workspace restoreFolder(Path workspacesDir, String jobId, Map<String, String> gitEnv, Path zip) throws IOException {
        Path dir = workspacesDir.resolve(jobId);
        Workspaces.deleteTree(dir);
        Workspaces.deleteTree(Workspaces.snapshotDir(workspacesDir, jobId));
        Workspaces.deleteAgentState(workspacesDir, jobId);
        JobArtifacts.folder(dir);
        Path root = dir.toRealPath();
        if (zip != null) {
            try (ZipFile z = new ZipFile(zip.toFile())) {
                Enumeration<? extends ZipEntry> entries = z.entries();
                while (entries.hasMoreElements()) {
                    ZipEntry e = entries.nextElement();
                    Path to = root.resolve(e.getName()).normalize();
                    if (!to.startsWith(root) || to.equals(root)) {
                        throw new WorkspaceException(jobId, "the stored workspace names a path outside it: " + e.getName(), null);
                    }
                    if (e.isDirectory()) {
                        Files.createDirectories(to);
                        continue;
                    }
                    Files.createDirectories(to.getParent());
                    if (!to.getParent().toRealPath().startsWith(root)) {
                        throw new WorkspaceException(jobId, "the stored workspace names a path through a link: " + e.getName(), null);
                    }
                    try (InputStream in = z.getInputStream(e)) {
                        if (LINK.equals(e.getComment())) {
                            Files.createSymbolicLink(to, Path.of(new String(in.readAllBytes(), StandardCharsets.UTF_8)));
                            continue;
                        }
                        Files.copy(in, to);
                    }
                    if (EXECUTABLE.equals(e.getComment())) {
                        Set<PosixFilePermission> perms = EnumSet.copyOf(Files.getPosixFilePermissions(to, LinkOption.NOFOLLOW_LINKS));
                        perms.add(PosixFilePermission.OWNER_EXECUTE);
                        Files.setPosixFilePermissions(to, perms);
                    }
                }
            }
        }
        return new Workspace(jobId, dir, Files.isDirectory(dir.resolve(".git"), LinkOption.NOFOLLOW_LINKS), gitEnv);
    }

    /** The id of the stored copy this host's workspace of the job is, or null (none kept, or no workspace here). */
    public static String keptId(Path workspacesDir, String jobId) {
        if (!Files.isDirectory(workspacesDir.resolve(jobId), LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        Path f = Workspaces.snapshotDir(workspacesDir, jobId).resolve(ID_FILE);
        try {
            String id = Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS) ? Files.readString(f).strip() : "";
            return id.matches("[0-9a-f]{16,64}") ? id : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Remembers that this host's workspace of the job is the stored copy {@code id}. */
    public static void keepId(Path workspacesDir, String jobId, String id) throws IOException {
        Path dir = Files.createDirectories(Workspaces.snapshotDir(workspacesDir, jobId));
        JobArtifacts.writeAtomically(dir.resolve(ID_FILE), id + "\n");
    }

    /** Counts what goes through, so that a zip can stop at its cap without being written whole first. */
    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
