package orchestrator.runner.artifact;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The artifact folder of one job, {@code $ORCH_HOME/artifacts/<job_id>/}, in the seed's layout:
 * {@code job.json}, {@code result.json}, {@code report.md}, {@code patch.diff}, {@code logs.txt}
 * and {@code steps/<step_id>/} with the same files. A reader (the gateway's artifact route, a
 * user's {@code cat}) sees a file either whole or not at all: every file but a step's streamed
 * log is written to a temporary file in the same folder and renamed over the target.
 *
 * <p>An instance also remembers what the runner itself made since an agent's process last ran
 * (only an agent's process writes into the folder besides the runner): the files it wrote, already
 * masked, and the folders it checked to be real. Until {@link #agentMayWrite} those need no second
 * look, neither a secrets scan nor a link check. An instance belongs to the job's worker thread.
 */
public final class JobArtifacts {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(JobArtifacts.class);
    /** Temporary names: unique within the process by the counter, across processes by the pid. */
    private static final AtomicLong TEMPORARIES = new AtomicLong();
    private static final long PID = ProcessHandle.current().pid();
    /** Owner only, as the temporary files of {@code Files.createTempFile} were: artifacts may quote a job's inputs. */
    private static final FileAttribute<?> OWNER_ONLY = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path root;
    /** Files the runner wrote (masked) or checked since an agent's process last ran: no agent changed them since. */
    private final Set<Path> ours = new HashSet<>();
    /** Folders made or found real since an agent's process last ran: no link can stand there since. */
    private final Set<Path> realFolders = new HashSet<>();

    public JobArtifacts(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    public Path file(String name) {
        return root.resolve(name);
    }

    public Path stepDir(String stepId) {
        return root.resolve("steps").resolve(stepId);
    }

    /** The job's folder and its {@code steps/}, each a real folder ({@link #folder}). */
    public void createFolders() throws IOException {
        checkedFolder(root);
        checkedFolder(root.resolve("steps"));
    }

    /** A step's folder, with the job's folders above it, each a real folder where a link may have stood. */
    public Path stepFolder(String stepId) throws IOException {
        createFolders();
        Path dir = stepDir(stepId);
        checkedFolder(dir);
        return dir;
    }

    /** {@link #folder}, once until an agent's process runs again: nothing else can plant a link meanwhile. */
    private void checkedFolder(Path dir) throws IOException {
        if (!realFolders.contains(dir)) {
            folder(dir);
            realFolders.add(dir);
        }
    }

    /**
     * An agent's process is about to run: it may write anywhere in the folder, so whatever the runner
     * wrote or checked so far must be looked at again (secrets scan, link checks).
     */
    public void agentMayWrite() {
        ours.clear();
        realFolders.clear();
    }

    /** {@link #writeAtomically}, remembering the file as the runner's own: {@code content} must be masked already. */
    public void write(Path target, String content) throws IOException {
        write(target, content.getBytes(StandardCharsets.UTF_8));
    }

    /** {@link #writeAtomically}, remembering the file as the runner's own: {@code content} must be masked already. */
    public void write(Path target, byte[] content) throws IOException {
        writeAtomically(target, content);
        ours.add(target);
    }

    /** Remembers a file the runner wrote or checked otherwise (masked, by rename) as its own. */
    public void written(Path file) {
        ours.add(file);
    }

    /** True when the runner wrote or checked {@code file} since an agent's process last ran. */
    public boolean isOurs(Path file) {
        return ours.contains(file);
    }

    /**
     * Creates {@code dir} if missing, and its parents on the first failure only: one mkdir where
     * {@code Files.createDirectories} spends several system calls on a new folder under a new folder.
     *
     * <p>An agent can write into its job's folder, so what stands at {@code dir} may be a symlink it
     * planted to make the runner write elsewhere: anything there but a real folder is removed (the
     * link itself, never its target) and a real folder made in its place.
     */
    public static void folder(Path dir) throws IOException {
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                log.warn("{} was not a folder (a symlink or file planted by an agent?): replaced by a folder", dir);
                Files.delete(dir);
                Files.createDirectory(dir);
            }
        } catch (NoSuchFileException e) {
            Files.createDirectories(dir);
        }
    }

    /**
     * True for a plain file: regular, not a symlink, and with one name. A hard link planted by an agent
     * is another name of a file elsewhere (any file on the host, for a runner running as root), so a
     * second name makes the file someone else's: it is neither read nor appended to.
     */
    public static boolean plainFile(Path file) throws IOException {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        Object links = Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
        return links instanceof Integer n && n == 1;
    }

    /**
     * Makes {@code file} safe to append to: whatever stands there that is not a {@link #plainFile} (a
     * symlink or hard link an agent planted) is removed, so the append creates a file of our own.
     */
    public static void clearForAppend(Path file) throws IOException {
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS) && !plainFile(file)) {
            log.warn("{} was a link or not a regular file (planted by an agent?): removed before writing", file);
            Files.delete(file);
        }
    }

    /** Appends to a file that {@link #clearForAppend} made safe, never following a symlink. */
    public static OutputStream append(Path file) throws IOException {
        clearForAppend(file);
        return Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND,
                LinkOption.NOFOLLOW_LINKS);
    }

    public static void writeAtomically(Path target, String content) throws IOException {
        writeAtomically(target, content.getBytes(StandardCharsets.UTF_8));
    }

    public static void writeAtomically(Path target, byte[] content) throws IOException {
        writeAtomically(target, out -> out.write(content));
    }

    /** What {@link #writeAtomically(Path, Content)} writes, a stream at a time (a log can be megabytes). */
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Writes {@code target} atomically from a stream: into a temporary file that is opened once, created
     * and opened by the same {@code O_EXCL} call, then renamed over the target.
     */
    public static void writeAtomically(Path target, Content content) throws IOException {
        Path tmp = temporaryName(target);
        boolean moved = false;
        try {
            try (OutputStream out = Channels.newOutputStream(createExclusive(tmp, target))) {
                content.writeTo(out);
            }
            moveIntoPlace(tmp, target);
            moved = true;
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static final Set<StandardOpenOption> CREATE_NEW = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);

    /** Creates and opens {@code tmp} (owner only, {@code O_EXCL}); a missing folder is created on the first failure only. */
    private static FileChannel createExclusive(Path tmp, Path target) throws IOException {
        try {
            return FileChannel.open(tmp, CREATE_NEW, OWNER_ONLY);
        } catch (NoSuchFileException e) {
            Files.createDirectories(target.getParent());
            return FileChannel.open(tmp, CREATE_NEW, OWNER_ONLY);
        }
    }

    /** The temporary name beside {@code target}: unique within the process by the counter, across processes by the pid. */
    private static Path temporaryName(Path target) {
        return target.resolveSibling("." + target.getFileName() + "." + PID + "-" + TEMPORARIES.incrementAndGet() + ".tmp");
    }

    /**
     * A fresh, empty temporary file next to {@code target}: same folder, so the rename is atomic. Created
     * with {@code O_EXCL} under a name no other writer uses (no random name, no folder check per file: a
     * runner writes about ten artifacts per job, and each saved system call counts at thousands of jobs
     * a second). A missing folder is created on the first failure only.
     */
    public static Path temporaryFor(Path target) throws IOException {
        Path tmp = temporaryName(target);
        createExclusive(tmp, target).close();
        return tmp;
    }

    public static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            // same folder, so this only happens on exotic file systems; a plain replace is the best left
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
