package orchestrator.runner.artifact;

import java.io.IOException;
import java.io.OutputStream;
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
import java.util.concurrent.atomic.AtomicLong;

/**
 * The artifact folder of one job, {@code $ORCH_HOME/artifacts/<job_id>/}, in the seed's layout:
 * {@code job.json}, {@code result.json}, {@code report.md}, {@code patch.diff}, {@code logs.txt}
 * and {@code steps/<step_id>/} with the same files. A reader (the gateway's artifact route, a
 * user's {@code cat}) sees a file either whole or not at all: every file but a step's streamed
 * log is written to a temporary file in the same folder and renamed over the target.
 */
public final class JobArtifacts {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(JobArtifacts.class);
    /** Temporary names: unique within the process by the counter, across processes by the pid. */
    private static final AtomicLong TEMPORARIES = new AtomicLong();
    private static final long PID = ProcessHandle.current().pid();
    /** Owner only, as the temporary files of {@code Files.createTempFile} were: artifacts may quote a job's inputs. */
    private static final FileAttribute<?> OWNER_ONLY = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path root;

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
        folder(root);
        folder(root.resolve("steps"));
    }

    /** A step's folder, with the job's folders above it, each a real folder where a link may have stood. */
    public Path stepFolder(String stepId) throws IOException {
        createFolders();
        Path dir = stepDir(stepId);
        folder(dir);
        return dir;
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
        Path tmp = temporaryFor(target);
        boolean moved = false;
        try {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.WRITE)) {
                out.write(content);
            }
            moveIntoPlace(tmp, target);
            moved = true;
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * A fresh, empty temporary file next to {@code target}: same folder, so the rename is atomic. Created
     * with {@code O_EXCL} under a name no other writer uses (no random name, no folder check per file: a
     * runner writes about ten artifacts per job, and each saved system call counts at thousands of jobs
     * a second). A missing folder is created on the first failure only.
     */
    public static Path temporaryFor(Path target) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + "." + PID + "-" + TEMPORARIES.incrementAndGet() + ".tmp");
        try {
            return Files.createFile(tmp, OWNER_ONLY);
        } catch (NoSuchFileException e) {
            Files.createDirectories(target.getParent());
            return Files.createFile(tmp, OWNER_ONLY);
        }
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
