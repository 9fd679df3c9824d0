package orchestrator.runner;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * {@code MIN_BINARY_VERSIONS}: runs {@code <binary> --version} and compares it with the operator's minimum,
 * as the prototype did before it ran a CLI. An older CLI mostly fails in confusing ways (an unknown flag, a
 * changed output format) after it has spent the step's time; refusing it up front names the cause.
 * Answers are cached per binary file and its modification time, so an upgrade is seen without a restart
 * and a step does not pay for a {@code --version} run every time.
 */
public final class VersionCheck {
    private static final long TIMEOUT_SEC = 10;
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();

    private record Cached(long modified, String answer) {
    }

    /** The binary's {@code --version} output's version, or a reason it has none. */
    public record Found(BinaryVersion version, String problem) {
    }

    /**
     * Why {@code binary} (a path to the executable) may not run under {@code minimums}, or null when it may
     * (no minimum for its name, or new enough).
     */
    public String refusal(Path binary, Map<String, BinaryVersion> minimums) {
        String name = binary.getFileName().toString();
        BinaryVersion min = minimums.get(name);
        if (min == null) {
            return null;
        }
        String key = binary.toAbsolutePath().toString();
        long modified;
        try {
            modified = Files.getLastModifiedTime(binary).toMillis();
        } catch (IOException e) {
            modified = -1;
        }
        Cached c = cache.get(key);
        if (c == null || c.modified() != modified) {
            Found f = version(binary);
            String answer = f.version() == null
                    ? "binary '" + name + "' has no readable version (" + f.problem() + "); MIN_BINARY_VERSIONS asks for at least " + min
                    : f.version().compareTo(min) < 0
                    ? "binary '" + name + "' is version " + f.version() + ", older than " + min + " that MIN_BINARY_VERSIONS asks for: upgrade it"
                    : "";
            c = new Cached(modified, answer);
            cache.put(key, c);
        }
        return c.answer().isEmpty() ? null : c.answer();
    }

    /** Runs {@code binary --version} (stdin closed, 10 s at most). */
    public static Found version(Path binary) {
        Process p;
        try {
            p = new ProcessBuilder(List.of(binary.toString(), "--version")).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            return new Found(null, "cannot run it: " + e.getMessage());
        }
        try {
            if (!p.waitFor(TIMEOUT_SEC, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Found(null, "--version did not answer within " + TIMEOUT_SEC + " s");
            }
            String out = new String(p.getInputStream().readNBytes(4096), StandardCharsets.UTF_8);
            BinaryVersion v = BinaryVersion.parse(out);
            return v == null ? new Found(null, "--version printed no version") : new Found(v, null);
        } catch (IOException e) {
            return new Found(null, e.getMessage());
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            return new Found(null, "interrupted");
        }
    }

    /** The file {@code name} resolves to on {@code path}, or null. */
    public static Path onPath(String name, String path) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            return Files.isExecutable(p) ? p : null;
        }
        for (String dir : (path == null ? "" : path).split(":")) {
            if (!dir.isEmpty()) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p) && !Files.isDirectory(p)) {
                    return p;
                }
            }
        }
        return null;
    }
}
