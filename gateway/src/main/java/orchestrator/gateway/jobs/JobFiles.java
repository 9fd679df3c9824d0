package orchestrator.gateway.jobs;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import orchestrator.gateway.ApiError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Opens files inside a job's artifact folder without following any link on the way. Agents run as the
 * same uid as the gateway and can write into their job's folder, so anything there may have been planted:
 * a symlink (to {@code /etc/passwd}, to the token file) in place of a step log, of a {@code steps/<id>}
 * folder or of the job folder itself, or a hard link (another name of any file the uid can reach, which
 * no path check can tell from a file of our own).
 *
 * <p>Where the platform has {@link SecureDirectoryStream} (Linux: {@code openat}), the walk opens each
 * folder relative to the one before with {@code O_NOFOLLOW}, so a link swapped in halfway through the walk
 * cannot redirect it; the file itself is opened {@code O_NOFOLLOW} too. What a walk cannot see through
 * Java is the link count of the open file (no {@code fstat}), so it is read by path and tied to the same
 * inode by its file key, and the file key is checked again after the open: a file swapped between the
 * check and the open is refused, not served.
 *
 * <p>One thing is left: a FIFO swapped in between the check and the open makes the open wait for a
 * writer (Java cannot open with {@code O_NONBLOCK}). That pins one request thread of the agent's own
 * job until the agent writes to it; it never serves another file.
 */
public final class JobFiles {
    private static final Logger log = LoggerFactory.getLogger(JobFiles.class);
    private static final Set<OpenOption> READ_NO_FOLLOW = Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);

    /** A file opened safely: read it through {@link #channel()}; {@link #key()} tells a replaced file from the same one. */
    record Opened(SeekableByteChannel channel, Object key) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /** A file that exists but is refused: 403 {@code unsafe_file}, the message naming why. */
    static final class Refused extends IOException {
        Refused(String message) {
            super(message);
        }

        ApiError toApiError() {
            return new ApiError(403, "unsafe_file", getMessage());
        }
    }

    private final Path artifactsDir;

    public JobFiles(Path artifactsDir) {
        this.artifactsDir = artifactsDir.toAbsolutePath().normalize();
    }

    /** A text artifact read through {@link #open}: at most {@code maxBytes} of it, and whether it was longer. */
    public record Text(String text, boolean truncated) {
    }

    /**
     * Up to {@code maxBytes} of {@code <artifacts>/<jobId>/<relative>} as UTF-8, opened as {@link #open} does;
     * empty when it is missing or refused (a planted link is never read; the dashboard shows it as absent).
     */
    public Optional<Text> readText(String jobId, String relative, int maxBytes) {
        try {
            Optional<Opened> o = open(jobId, JobArtifacts.segments(relative));
            if (o.isEmpty()) {
                return Optional.empty();
            }
            try (Opened f = o.get()) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(maxBytes + 1);
                while (buf.hasRemaining() && f.channel().read(buf) > 0) {
                    // reads until full or at the end
                }
                boolean truncated = buf.position() > maxBytes;
                int n = Math.min(buf.position(), maxBytes);
                return Optional.of(new Text(new String(buf.array(), 0, n, java.nio.charset.StandardCharsets.UTF_8), truncated));
            }
        } catch (IOException | ApiError e) {
            log.debug("artifact {} of job {} not shown: {}", relative, jobId, e.getMessage());
            return Optional.empty();
        }
    }

    /** An artifact's path inside the job folder and its size. */
    public record Listed(String path, long size) {
    }

    /**
     * The regular files of the job's artifact folder, sorted by path, at most {@code max}; links are not
     * followed nor listed (serving them is refused anyway).
     */
    public List<Listed> list(String jobId, int max) {
        Path root = artifactsDir.resolve(jobId);
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            return List.of();
        }
        List<Listed> out = new ArrayList<>();
        try (java.util.stream.Stream<Path> walk = Files.walk(root, 4)) {
            walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).sorted().limit(max).forEach(p -> {
                try {
                    out.add(new Listed(root.relativize(p).toString().replace('\\', '/'), Files.size(p)));
                } catch (IOException e) {
                    // went away during the walk
                }
            });
        } catch (IOException | java.io.UncheckedIOException e) {
            log.debug("artifacts of job {} not listed: {}", jobId, e.getMessage());
        }
        return out;
    }

    /**
     * Opens {@code <artifacts>/<jobId>/<segments...>} for reading.
     *
     * @param segments path segments already checked to be plain names (no {@code ..}, no separators)
     * @return the open file, or empty when it (or a folder on its way) does not exist or is a folder
     * @throws Refused when a component is a symlink or not a folder, or the file is not a regular file
     *                 or has more than one name, or changed while it was being opened
     */
    Optional<Opened> open(String jobId, List<String> segments) throws IOException {
        List<String> names = new ArrayList<>(segments.size() + 1);
        names.add(jobId);
        names.addAll(segments);
        String shown = String.join("/", segments);
        DirectoryStream<Path> root;
        try {
            root = Files.newDirectoryStream(artifactsDir);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return Optional.empty();
        }
        if (root instanceof SecureDirectoryStream<Path> secure) {
            return walk(secure, jobId, names, shown);
        }
        root.close();
        return byPath(jobId, names, shown);
    }

    private Optional<Opened> walk(SecureDirectoryStream<Path> root, String jobId, List<String> names, String shown) throws IOException {
        SecureDirectoryStream<Path> dir = root;
        try {
            for (int i = 0; i < names.size() - 1; i++) {
                Path name = Path.of(names.get(i));
                BasicFileAttributes a = attributes(dir, name);
                if (a == null) {
                    return Optional.empty();
                }
                if (a.isSymbolicLink() || !a.isDirectory()) {
                    throw refuse(jobId, shown, component(names, i), a.isSymbolicLink() ? "is a symbolic link" : "is not a folder");
                }
                SecureDirectoryStream<Path> next;
                try {
                    next = dir.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException e) {
                    return Optional.empty();
                } catch (FileSystemException e) {
                    // ELOOP/ENOTDIR: it became a link or a file after we looked
                    throw refuse(jobId, shown, component(names, i), "changed while it was opened");
                }
                dir.close();
                dir = next;
            }
            Path name = Path.of(names.get(names.size() - 1));
            BasicFileAttributes before = attributes(dir, name);
            if (before == null || before.isDirectory()) {
                return Optional.empty();
            }
            checkPlain(jobId, shown, before);
            // one stat by path gives the link count; its file key ties that count to the inode the walk saw
            Map<String, Object> byPath;
            try {
                byPath = Files.readAttributes(byName(names), "unix:nlink,fileKey", LinkOption.NOFOLLOW_LINKS);
            } catch (FileSystemException e) {
                throw refuse(jobId, shown, shown, "changed while it was opened");
            }
            if (!Objects.equals(byPath.get("fileKey"), before.fileKey())) {
                throw refuse(jobId, shown, shown, "changed while it was opened");
            }
            checkLinks(jobId, shown, byPath.get("nlink"));
            SeekableByteChannel ch;
            try {
                ch = dir.newByteChannel(name, READ_NO_FOLLOW);
            } catch (NoSuchFileException e) {
                return Optional.empty();
            } catch (FileSystemException e) {
                throw refuse(jobId, shown, shown, "changed while it was opened");
            }
            BasicFileAttributes after = attributes(dir, name);
            if (after == null || !Objects.equals(after.fileKey(), before.fileKey())) {
                ch.close();
                throw refuse(jobId, shown, shown, "changed while it was opened");
            }
            return Optional.of(new Opened(ch, before.fileKey()));
        } finally {
            dir.close();
        }
    }

    /** The fallback without {@code openat}: every component checked by path, the file opened {@code O_NOFOLLOW}. */
    private Optional<Opened> byPath(String jobId, List<String> names, String shown) throws IOException {
        Path p = artifactsDir;
        for (int i = 0; i < names.size(); i++) {
            p = p.resolve(names.get(i));
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                return Optional.empty();
            }
            boolean last = i == names.size() - 1;
            if (last && a.isDirectory()) {
                return Optional.empty();
            }
            if (!last && (a.isSymbolicLink() || !a.isDirectory())) {
                throw refuse(jobId, shown, component(names, i), a.isSymbolicLink() ? "is a symbolic link" : "is not a folder");
            }
            if (last) {
                checkPlain(jobId, shown, a);
                checkLinks(jobId, shown, Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS));
                SeekableByteChannel ch;
                try {
                    ch = Files.newByteChannel(p, READ_NO_FOLLOW);
                } catch (NoSuchFileException e) {
                    return Optional.empty();
                } catch (FileSystemException e) {
                    throw refuse(jobId, shown, shown, "changed while it was opened");
                }
                return Optional.of(new Opened(ch, a.fileKey()));
            }
        }
        throw new IllegalStateException("no segments");
    }

    private static void checkPlain(String jobId, String shown, BasicFileAttributes a) throws Refused {
        if (a.isSymbolicLink()) {
            throw refuse(jobId, shown, shown, "is a symbolic link");
        }
        if (!a.isRegularFile()) {
            throw refuse(jobId, shown, shown, "is not a regular file");
        }
    }

    /** A second name makes the file someone else's: the other name may be any file the uid can reach. */
    private static void checkLinks(String jobId, String shown, Object nlink) throws Refused {
        if (!(nlink instanceof Integer n) || n != 1) {
            throw refuse(jobId, shown, shown, "has " + nlink + " hard links (another name of a file elsewhere)");
        }
    }

    /** The name of the {@code i}th component for a message: a path inside the job folder, nothing of the host. */
    private static String component(List<String> names, int i) {
        return i == 0 ? "the job folder" : String.join("/", names.subList(1, i + 1));
    }

    private Path byName(List<String> names) {
        Path p = artifactsDir;
        for (String n : names) {
            p = p.resolve(n);
        }
        return p;
    }

    private static BasicFileAttributes attributes(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            return dir.getFileAttributeView(name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).readAttributes();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static Refused refuse(String jobId, String asked, String what, String why) {
        String message = what + " " + why + "; a file an agent could have linked is not served";
        MDC.put("job_id", jobId);
        try {
            log.warn("job {}: refused to serve {}: {}", jobId, asked, message);
        } finally {
            MDC.remove("job_id");
        }
        return new Refused(message);
    }
}
