package orchestrator.runner.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills a step's whole process tree. Three nets, because each alone misses something:
 * the process group (the child was started by {@code setsid}, so its pid is its pgid) catches
 * ordinary children; a snapshot of {@link ProcessHandle#descendants()} taken before the kill
 * catches children that moved to another group; a scan of {@code /proc/<pid>/environ} for the
 * step's token catches a grandchild that called {@code setsid} and was reparented to init.
 * A process that cleared its own environment escapes the last net; cgroups would close that gap.
 */
final class ProcessTree {
    private static final Logger log = LoggerFactory.getLogger(ProcessTree.class);
    private static final int MAX_SCAN_ROUNDS = 40;
    private static final long SCAN_PAUSE_MS = 25;

    private ProcessTree() {
    }

    static void kill(Process process, String token) throws InterruptedException {
        long pid = process.pid();
        List<ProcessHandle> snapshot = process.toHandle().descendants().toList();
        killGroup(pid);
        process.destroyForcibly();
        snapshot.forEach(ProcessHandle::destroyForcibly);
        killByToken(token);
    }

    /** Kills every process whose environment carries the token, until none is left (bounded). */
    static void killByToken(String token) throws InterruptedException {
        killByEnv(ProcessSpec.TOKEN_VARIABLE, token);
    }

    /** Kills every process whose environment holds {@code name=value}, until none is left (bounded). @return how many were found */
    static int killByEnv(String name, String value) throws InterruptedException {
        int killed = 0;
        for (int round = 0; round < MAX_SCAN_ROUNDS; round++) {
            List<Long> found = withEnv(name, value);
            if (found.isEmpty()) {
                return killed;
            }
            killed += found.size();
            for (long p : found) {
                killGroup(p);
                ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
            }
            Thread.sleep(SCAN_PAUSE_MS);
        }
        log.warn("processes carrying {}={} survived {} kill rounds: {}", name, value, MAX_SCAN_ROUNDS, withEnv(name, value));
        return killed;
    }

    /** Pids of live processes whose environment holds {@code ORCH_STEP_TOKEN=<token>}. */
    static List<Long> withToken(String token) {
        return withEnv(ProcessSpec.TOKEN_VARIABLE, token);
    }

    /** Pids of live processes (other than this one) whose environment holds {@code name=value}. */
    static List<Long> withEnv(String name, String value) {
        byte[] needle = (name + "=" + value).getBytes(StandardCharsets.UTF_8);
        long self = ProcessHandle.current().pid();
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path p : procs) {
                long pid = Long.parseLong(p.getFileName().toString());
                if (pid == self) {
                    continue;
                }
                try {
                    if (contains(Files.readAllBytes(p.resolve("environ")), needle)) {
                        out.add(pid);
                    }
                } catch (IOException | SecurityException e) {
                    // gone meanwhile, or another user's process: it cannot carry our token then
                }
            }
        } catch (IOException e) {
            log.debug("cannot list /proc: {}", e.toString());
        }
        return out;
    }

    private static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            // a variable starts the environ block or follows a NUL; the value must end at a NUL or the end
            if (i > 0 && hay[i - 1] != 0) {
                continue;
            }
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            int end = i + needle.length;
            if (end == hay.length || hay[end] == 0) {
                return true;
            }
        }
        return false;
    }

    /** SIGKILL to the process group {@code pgid}; a group that no longer exists is not an error. */
    static void killGroup(long pgid) throws InterruptedException {
        try {
            Process k = new ProcessBuilder("/bin/kill", "-KILL", "--", "-" + pgid)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            if (!k.waitFor(5, TimeUnit.SECONDS)) {
                k.destroyForcibly();
            }
        } catch (IOException e) {
            log.warn("cannot run /bin/kill for process group {}: {}", pgid, e.toString());
        }
    }
}
