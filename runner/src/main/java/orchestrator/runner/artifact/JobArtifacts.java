package orchestrator.runner.artifact;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The artifact folder of one job, {@code $ORCH_HOME/artifacts/<job_id>/}, in the seed's layout:
 * {@code job.json}, {@code result.json}, {@code report.md}, {@code patch.diff}, {@code logs.txt}
 * and {@code steps/<step_id>/} with the same files. A reader (the gateway's artifact route, a
 * user's {@code cat}) sees a file either whole or not at all: every file but a step's streamed
 * log is written to a temporary file in the same folder and renamed over the target.
 */
public final class JobArtifacts {
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

    public void createFolders() throws IOException {
        Files.createDirectories(root.resolve("steps"));
    }

    public static void writeAtomically(Path target, String content) throws IOException {
        writeAtomically(target, content.getBytes(StandardCharsets.UTF_8));
    }

    public static void writeAtomically(Path target, byte[] content) throws IOException {
        Path tmp = temporaryFor(target);
        try {
            Files.write(tmp, content);
            moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** A fresh temporary file next to {@code target}: same folder, so the rename is atomic. */
    public static Path temporaryFor(Path target) throws IOException {
        Files.createDirectories(target.getParent());
        return Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp");
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
