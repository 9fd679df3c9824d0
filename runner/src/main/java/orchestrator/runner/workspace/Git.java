package orchestrator.runner.workspace;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the runner's own git commands (clone, snapshot, diff), never the agent's. Output goes to
 * files, not pipes, so a large diff cannot dead-lock on a full pipe.
 */
final class Git {
    private static final long TIMEOUT_SEC = 300;

    private Git() {
    }

    /** Runs git in {@code dir}; stdout goes to {@code stdout} (or is returned, trimmed, when that is null). */
    static String run(String jobId, Path dir, Map<String, String> env, Path stdout, String... args) {
        // no command of git's configuration may run as the runner (see Workspace): no fsmonitor, no hooks
        List<String> argv = new ArrayList<>(List.of("git", "-c", "safe.directory=*", "-c", "core.quotePath=false",
                "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"));
        argv.addAll(List.of(args));
        Path out = stdout;
        Path err = null;
        try {
            if (out == null) {
                out = Files.createTempFile("orch-git-", ".out");
            }
            err = Files.createTempFile("orch-git-", ".err");
            ProcessBuilder pb = new ProcessBuilder(argv).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().clear();
            pb.environment().putAll(env);
            // never wait for a credential prompt: the runner has no terminal
            pb.environment().put("GIT_TERMINAL_PROMPT", "0");
            Process p = pb.start();
            if (!p.waitFor(TIMEOUT_SEC, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new WorkspaceException(jobId, "git " + args[0] + " took longer than " + TIMEOUT_SEC + " s", null);
            }
            if (p.exitValue() != 0) {
                String msg = Files.readString(err, StandardCharsets.UTF_8).strip();
                throw new WorkspaceException(jobId, "git " + args[0] + " failed (exit " + p.exitValue() + "): " + msg, null);
            }
            return stdout == null ? Files.readString(out, StandardCharsets.UTF_8).strip() : null;
        } catch (IOException e) {
            throw new WorkspaceException(jobId, "git " + args[0] + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkspaceException(jobId, "interrupted during git " + args[0], e);
        } finally {
            try {
                if (stdout == null && out != null) {
                    Files.deleteIfExists(out);
                }
                if (err != null) {
                    Files.deleteIfExists(err);
                }
            } catch (IOException ignored) {
                // a leftover temp file is harmless
            }
        }
    }
}
