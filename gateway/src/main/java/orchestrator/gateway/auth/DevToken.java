package orchestrator.gateway.auth;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import orchestrator.core.Ids;
import orchestrator.core.config.ConfigException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The development token used when no {@code WEBHOOK_TOKEN}/{@code WEBHOOK_TOKENS} is configured: a fresh
 * install works with curl at once, and the server binds to loopback only, so the token never guards a
 * public port.
 *
 * @param file   {@code $ORCH_HOME/dev-token}
 * @param secret the token
 */
public record DevToken(Path file, String secret) {
    public static final String FILE_NAME = "dev-token";
    private static final Logger log = LoggerFactory.getLogger(DevToken.class);
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    /**
     * Reads {@code home/dev-token}, or creates it (mode 0600 from the start, never world-readable for an
     * instant) and prints the new token once on {@code out}. A reused token is never printed again: the
     * console may be a shared journal.
     */
    public static DevToken loadOrCreate(Path home, PrintStream out) {
        Path file = home.resolve(FILE_NAME);
        try {
            Files.createDirectories(home);
            String existing = read(file);
            if (existing != null) {
                out.println("orchestrator: no WEBHOOK_TOKEN set; using the development token in " + file);
                return new DevToken(file, existing);
            }
            String secret = Ids.randomHex(24);
            if (!create(file, secret)) {
                // another process created it between our read and our link: use theirs
                String theirs = read(file);
                if (theirs == null) {
                    throw new ConfigException("ORCH_HOME", file + " exists but holds no token; delete it to get a new one");
                }
                out.println("orchestrator: no WEBHOOK_TOKEN set; using the development token in " + file);
                return new DevToken(file, theirs);
            }
            out.println("orchestrator: no WEBHOOK_TOKEN set; generated a development token in " + file + ": " + secret);
            return new DevToken(file, secret);
        } catch (IOException e) {
            throw new ConfigException("ORCH_HOME", "cannot read or create " + file + ": " + e.getMessage());
        }
    }

    private static String read(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        if (posix() && !Files.getPosixFilePermissions(file).equals(OWNER_ONLY)) {
            log.warn("{} is readable by others; chmod 600 it", file);
        }
        String s = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (s.isEmpty()) {
            throw new ConfigException("ORCH_HOME", file + " is empty; delete it to get a new development token");
        }
        return s;
    }

    /**
     * Writes a temporary file with its final mode and content, then hard-links it into place: the link fails
     * if the file exists, so two processes starting together never print two different tokens.
     *
     * @return false when the file already existed
     */
    private static boolean create(Path file, String secret) throws IOException {
        Path dir = file.getParent();
        Path tmp = posix()
                ? Files.createTempFile(dir, ".dev-token", ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY))
                : Files.createTempFile(dir, ".dev-token", ".tmp");
        try {
            Files.writeString(tmp, secret + "\n", StandardCharsets.UTF_8);
            try {
                Files.createLink(file, tmp);
                return true;
            } catch (FileAlreadyExistsException e) {
                return false;
            } catch (UnsupportedOperationException e) {
                // a file system without hard links: a plain move, which still never exposes a partial file
                if (Files.exists(file)) {
                    return false;
                }
                Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                return true;
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }

    @Override
    public String toString() {
        return "DevToken[" + file + "]";
    }
}
