package orchestrator.runner.process;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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
    private static final File PROC = new File("/proc");
    private static final long PID_MAX = readPidMax();
    /** Up to this many pids handed out during a brief step are looked up one by one rather than listed. */
    private static final int PROBE_MAX = 256;
    private static final long SELF = ProcessHandle.current().pid();
    /**
     * Where an orphan of a step can be reparented: init, or a subreaper among this runner's ancestors
     * (systemd, tini, a supervisor). Collected once, not per step: walking the chain cost several
     * {@code /proc} reads per call. The chain can only lose members (an ancestor exits and this
     * runner moves up to one already listed), never gain one, so the set stays complete; a stale pid
     * in it costs at most one needless {@code environ} read.
     */
    private static final java.util.Set<Long> REAPERS = reapers();

    private ProcessTree() {
    }

    /**
     * @param brief the step ran for less than a second: only processes created after it started can be
     *              its leftovers, see {@link #leftovers(long, String, boolean)}
     */
    static void kill(Process process, String token, boolean brief) throws InterruptedException {
        long pid = process.pid();
        if (!process.isAlive() && leftovers(pid, token, brief).isEmpty()) {
            // It exited by itself, the common case, and left nothing: no process in its group or session
            // (setsid made its pid both) and none carrying its token. One pass over /proc says so, where
            // the kill below costs a descendants scan, a token scan and a /bin/kill process.
            return;
        }
        List<ProcessHandle> snapshot = process.toHandle().descendants().toList();
        killGroup(pid);
        process.destroyForcibly();
        snapshot.forEach(ProcessHandle::destroyForcibly);
        killByToken(token);
    }

    /**
     * Pids of live processes whose process group or session is {@code leader} (the step's setsid'd
     * child), or that were orphaned and carry the step's token: what an exited step left behind.
     * Reads every process's {@code stat}, but the {@code environ} only of orphans (children of init or
     * of a subreaper above this runner): a leftover that left the group was reparented there, unless
     * its parent is itself a leftover, which this finds. With many steps running, reading every
     * environment after every step cost the runner a third of its time.
     */
    static List<Long> leftovers(long leader, String token, boolean brief) {
        long last = brief ? lastPid() : -1;
        byte[] needle = (ProcessSpec.TOKEN_VARIABLE + "=" + token).getBytes(StandardCharsets.UTF_8);
        List<Long> out = new ArrayList<>();
        byte[] buf = new byte[1024];
        long[] handedOut = last < 0 ? null : pidsHandedOutAfter(leader, last, PID_MAX, PROBE_MAX);
        if (handedOut != null) {
            // fewer pids were handed out while the step ran than /proc has entries: look each one up
            // (a pid no longer in use is one failed lookup) instead of listing every process
            for (long pid : handedOut) {
                if (pid != SELF) {
                    check(pid, Long.toString(pid), leader, needle, buf, out);
                }
            }
            return out;
        }
        String[] names = PROC.list();
        if (names == null) {
            log.debug("cannot list /proc");
            return List.of(leader); // cannot tell: let the caller run the full kill
        }
        for (String name : names) {
            long pid = pidOf(name);
            if (pid < 0 || pid == SELF || last >= 0 && !handedOutAfter(pid, leader, last)) {
                continue;
            }
            check(pid, name, leader, needle, buf, out);
        }
        return out;
    }

    /** Adds {@code pid} to {@code out} if it is in the leader's group or session, or an orphan carrying the token. */
    private static void check(long pid, String name, long leader, byte[] needle, byte[] buf, List<Long> out) {
        try {
            long[] ids = parentGroupSession(readSmall("/proc/" + name + "/stat", buf));
            if (ids == null) {
                return;
            }
            if (ids[1] == leader || ids[2] == leader
                    || REAPERS.contains(ids[0]) && contains(Files.readAllBytes(Path.of("/proc", name, "environ")), needle)) {
                out.add(pid);
            }
        } catch (IOException | SecurityException e) {
            // not in use (any more), or another user's process: not one of ours then
        }
    }

    /**
     * The pids handed out after {@code leader} up to {@code last}, in order, across a wrap at
     * {@code pidMax}; null when there are more than {@code max} of them or {@code pidMax} is unknown (0).
     */
    static long[] pidsHandedOutAfter(long leader, long last, long pidMax, int max) {
        if (pidMax <= 0 || leader >= pidMax || last >= pidMax) {
            return null;
        }
        long count = last >= leader ? last - leader : pidMax - 1 - leader + last;
        if (count > max) {
            return null;
        }
        long[] pids = new long[(int) count];
        long pid = leader;
        for (int i = 0; i < pids.length; i++) {
            pid = pid + 1 >= pidMax ? 1 : pid + 1;
            pids[i] = pid;
        }
        return pids;
    }

    private static java.util.Set<Long> reapers() {
        java.util.Set<Long> reapers = new java.util.HashSet<>();
        reapers.add(1L);
        for (Optional<ProcessHandle> h = ProcessHandle.current().parent(); h.isPresent(); h = h.get().parent()) {
            if (!reapers.add(h.get().pid())) {
                break;
            }
        }
        return java.util.Set.copyOf(reapers);
    }

    /** The pid a {@code /proc} entry names, or -1 for the entries that are not processes ("self", "sys", …). */
    static long pidOf(String name) {
        if (name.isEmpty() || name.length() > 18) {
            return -1;
        }
        long pid = 0;
        for (int i = 0; i < name.length(); i++) {
            char ch = name.charAt(i);
            if (ch < '0' || ch > '9') {
                return -1;
            }
            pid = pid * 10 + (ch - '0');
        }
        return pid;
    }

    /** Whether {@code pid} was handed out after {@code leader}, given the last pid handed out; no full wrap in between. */
    static boolean handedOutAfter(long pid, long leader, long last) {
        return last >= leader ? pid > leader && pid <= last : pid > leader || pid <= last;
    }

    /** {@code kernel.pid_max}: every pid is below it; 0 when it cannot be read. */
    private static long readPidMax() {
        try {
            return Long.parseLong(readSmall("/proc/sys/kernel/pid_max", new byte[32]).strip());
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The last pid the kernel handed out in this pid namespace, or -1 when it cannot be read. */
    private static long lastPid() {
        try {
            return Long.parseLong(readSmall("/proc/sys/kernel/ns_last_pid", new byte[32]).strip());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * A small file read into {@code buf} with one open, one read and one close (a stat line is a few
     * hundred bytes; this runs for every process after every step, so no channel, size check or String).
     */
    private static String readSmall(String file, byte[] buf) throws IOException {
        try (java.io.FileInputStream in = new java.io.FileInputStream(file)) {
            int n = in.read(buf);
            return n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * {@code /proc/<pid>/stat}, "pid (comm) state ppid pgrp session ...", as {ppid, pgrp, session};
     * null if it cannot be read. The command name may hold spaces and parentheses.
     */
    static long[] parentGroupSession(String stat) {
        int i = stat.lastIndexOf(')');
        if (i < 0) {
            return null;
        }
        long[] ids = new long[3];
        i += 2;
        // skip the state, then read ppid, pgrp and session
        int field = -1;
        while (i < stat.length() && field < 3) {
            char ch = stat.charAt(i);
            if (ch == ' ') {
                field++;
                if (field < 3) {
                    ids[field] = 0;
                }
            } else if (field >= 0) {
                if (ch < '0' || ch > '9') {
                    return null;
                }
                ids[field] = ids[field] * 10 + (ch - '0');
            }
            i++;
        }
        return field == 3 ? ids : null;
    }

    /**
     * How many processes are in session {@code sid} (a step's session: its leader is the step's process).
     * Processes, not threads: {@code max_procs} bounds what a step forks, and a Node CLI alone runs a dozen
     * threads. A process that starts a session of its own is not counted (it still dies with the step: it
     * carries the step's token).
     */
    static int countSession(long sid) {
        String[] names = PROC.list();
        if (names == null) {
            return 0;
        }
        byte[] buf = new byte[512];
        int n = 0;
        for (String entry : names) {
            long pid = pidOf(entry);
            if (pid < 0) {
                continue;
            }
            try {
                long[] ids = parentGroupSession(readSmall("/proc/" + entry + "/stat", buf));
                if (ids != null && ids[2] == sid) {
                    n++;
                }
            } catch (IOException e) {
                // gone meanwhile
            }
        }
        return n;
    }

    /** Kills every process whose environment carries the token, until none is left (bounded). */
    static void killByToken(String token) throws InterruptedException {
        killByEnv(ProcessSpec.TOKEN_VARIABLE, token);
    }

    /** Kills every process whose environment holds {@code name=value}, until none is left (bounded). @return how many were found */
    static int killByEnv(String name, String value) throws InterruptedException {
        // a process slow to die is found again in the next round: count each once
        java.util.Set<Long> killed = new java.util.HashSet<>();
        for (int round = 0; round < MAX_SCAN_ROUNDS; round++) {
            List<Long> found = withEnv(name, value);
            if (found.isEmpty()) {
                return killed.size();
            }
            killed.addAll(found);
            for (long p : found) {
                killGroup(p);
                ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
            }
            Thread.sleep(SCAN_PAUSE_MS);
        }
        log.warn("processes carrying {}={} survived {} kill rounds: {}", name, value, MAX_SCAN_ROUNDS, withEnv(name, value));
        return killed.size();
    }

    /** Pids of live processes whose environment holds {@code ORCH_STEP_TOKEN=<token>}. */
    static List<Long> withToken(String token) {
        return withEnv(ProcessSpec.TOKEN_VARIABLE, token);
    }

    /** Pids of live processes (other than this one) whose environment holds {@code name=value}. */
    static List<Long> withEnv(String name, String value) {
        byte[] needle = (name + "=" + value).getBytes(StandardCharsets.UTF_8);
        String[] names = PROC.list();
        if (names == null) {
            log.debug("cannot list /proc");
            return List.of();
        }
        List<Long> out = new ArrayList<>();
        for (String entry : names) {
            long pid = pidOf(entry);
            if (pid < 0 || pid == SELF) {
                continue;
            }
            try {
                if (contains(Files.readAllBytes(Path.of("/proc", entry, "environ")), needle)) {
                    out.add(pid);
                }
            } catch (IOException | SecurityException e) {
                // gone meanwhile, or another user's process: it cannot carry our token then
            }
        }
        return out;
    }

    /** The distinct values of variable {@code name} in the environments of live processes (other than this one). */
    static java.util.Set<String> envValues(String name) {
        byte[] prefix = (name + "=").getBytes(StandardCharsets.UTF_8);
        java.util.Set<String> out = new java.util.HashSet<>();
        String[] names = PROC.list();
        if (names == null) {
            return out;
        }
        for (String entry : names) {
            long pid = pidOf(entry);
            if (pid < 0 || pid == SELF) {
                continue;
            }
            try {
                byte[] env = Files.readAllBytes(Path.of("/proc", entry, "environ"));
                for (int i = 0; i + prefix.length <= env.length; i++) {
                    if ((i == 0 || env[i - 1] == 0) && java.util.Arrays.equals(env, i, i + prefix.length, prefix, 0, prefix.length)) {
                        int end = i + prefix.length;
                        while (end < env.length && env[end] != 0) {
                            end++;
                        }
                        out.add(new String(env, i + prefix.length, end - i - prefix.length, StandardCharsets.UTF_8));
                        break;
                    }
                }
            } catch (IOException | SecurityException e) {
                // gone meanwhile, or another user's process
            }
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
