package orchestrator.runner.workspace;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Git object ids as the runner keeps them in files: only a well-formed id (SHA-1 or SHA-256) is taken. */
final class ObjectIds {
    private ObjectIds() {
    }

    static boolean valid(String id) {
        return id != null && id.matches("[0-9a-f]{40}|[0-9a-f]{64}");
    }

    /** The id a file holds, or null (no file, a link, anything but one id). */
    static String read(Path file) {
        if (file == null || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        try {
            String id = Files.readString(file).strip();
            return valid(id) ? id : null;
        } catch (IOException e) {
            return null;
        }
    }
}
