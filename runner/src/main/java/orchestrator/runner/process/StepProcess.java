package orchestrator.runner.process;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import orchestrator.core.job.Limits;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one step's process to its end: in its own session ({@code setsid}), under rlimits
 * ({@code prlimit}), with a scrubbed environment, output streamed to the log, and the whole tree
 * killed on wall timeout, idle output or a stop request. Timeouts use {@link System#nanoTime()}:
 * they measure a real process's real time, which an injected clock must not shorten or stretch.
 */
public final class StepProcess {
    /** How often the supervising thread looks at the deadlines and the stop request. */
    static final long SUPERVISE_POLL_MS = 20;
    private static final Logger log = LoggerFactory.getLogger(StepProcess.class);
    private static final long PUMP_JOIN_MS = 2_000;
    /**
     * The threads that copy steps' output to their logs, one per running step, kept for reuse: a new
     * thread per step cost a short job's runner more than its log did.
     */
    private static final ExecutorService PUMPS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "log-pump");
        t.setDaemon(true);
        return t;
    });
    private static final long MB = 1024L * 1024L;

    /**
     * How long a CLI may keep running after it printed its final result. Some CLIs linger (an MCP
     * server or telemetry flush that never ends); the result is what counts, so the tree is killed.
     */
    public static final long RESULT_EXIT_GRACE_MS = 5_000;

    /**
     * EXITED: on its own; TIMEOUT/IDLE_TIMEOUT: killed by a timer; STOPPED: killed on a stop request;
     * ABORTED: killed because the monitor asked (a budget, a CLI stuck waiting for the network);
     * RESULT_NO_EXIT: killed {@link #RESULT_EXIT_GRACE_MS} after the final result, still running.
     */
    public enum Ending { EXITED, TIMEOUT, IDLE_TIMEOUT, STOPPED, ABORTED, RESULT_NO_EXIT, PROCESS_LIMIT }

    /**
     * How often a running step's processes are counted against its {@code max_procs}. RLIMIT_NPROC cannot
     * do it: root ignores it, and for a service user it counts every process and thread of the user, the
     * runner's own JVM threads included, so a small limit stops the step from forking at all.
     */
    static final long PROCESS_COUNT_EVERY_MS = 200;

    /**
     * Watches a step's output while it runs. {@link #line} is called on the log pump's thread with
     * each raw line; the other methods on the supervising thread, so implementations are thread-safe.
     */
    public interface Monitor {
        Monitor NONE = new Monitor() {
            @Override
            public void line(String raw) {
            }

            @Override
            public String abortReason() {
                return null;
            }

            @Override
            public boolean finalResultSeen() {
                return false;
            }
        };

        void line(String raw);

        /** Non-null: kill the tree now; the step ends ABORTED with this reason. */
        String abortReason();

        /** True once the agent printed its final result: it gets {@link #RESULT_EXIT_GRACE_MS} to exit. */
        boolean finalResultSeen();

        /** A parser threw on a line; the line is still logged. */
        default void parserFailed(RuntimeException e) {
        }
    }

    /**
     * @param exitCode   the process's exit status (after a kill, whatever the kernel reported)
     * @param stopReason what the stop request or the monitor said, when {@code ending} is STOPPED or ABORTED
     */
    public record Result(Ending ending, int exitCode, String stopReason, long durationMs) {
    }

    private StepProcess() {
    }

    /**
     * Kills processes left on this host by an earlier attempt of the job: a runner killed with SIGKILL
     * cannot kill its steps' trees (they run in their own sessions), so the next attempt does. Only one
     * attempt of a job holds the lease at a time, so anything still carrying the job's id is stale.
     *
     * @return how many processes were found
     */
    public static int killLeftoversOf(String jobId) throws InterruptedException {
        synchronized (cleanUp(jobId)) {
            return ProcessTree.killByEnv(JOB_ID_VARIABLE, jobId);
        }
    }

    private static final Object[] CLEAN_UPS = new Object[64];

    static {
        java.util.Arrays.setAll(CLEAN_UPS, i -> new Object());
    }

    /**
     * The monitor held while this runner kills what earlier leases of the job left (the new attempt's
     * {@link #killLeftoversOf} and the orphan sweep): the two take turns, so a leftover is killed and
     * reported by one of them, never by both at once. One of a fixed set, chosen by the job id.
     */
    public static Object cleanUp(String jobId) {
        return CLEAN_UPS[Math.floorMod(jobId.hashCode(), CLEAN_UPS.length)];
    }

    /** Every step process carries its job's id in this variable. */
    public static final String JOB_ID_VARIABLE = "ORCH_JOB_ID";
    /**
     * Every step process carries {@code <store tag>/<runner id>/<job id>@<lease token>}: the lease it runs under. A runner id names
     * one runner process (host, instance, pid), so processes whose runner is gone, or whose job is no
     * longer running under that runner, can be told from a live runner's and killed by any runner.
     */
    public static final String LEASE_VARIABLE = "ORCH_LEASE";

    /** The {@link #LEASE_VARIABLE} values of every live step process on this host. */
    public static java.util.Set<String> liveLeases() {
        return ProcessTree.envValues(LEASE_VARIABLE);
    }

    /** Kills every process running under this {@link #LEASE_VARIABLE} value; @return how many were found. */
    public static int killLease(String lease) throws InterruptedException {
        return ProcessTree.killByEnv(LEASE_VARIABLE, lease);
    }

    /** True when the runner runs as root, for whom RLIMIT_NPROC is not enforced at all. */
    private static final boolean ROOT = "0".equals(effectiveUid());

    private static String effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2];
                }
            }
        } catch (IOException e) {
            // not Linux: no /proc
        }
        return "";
    }

    /**
     * The RLIMIT_NPROC given to a step: only a backstop, since {@link #PROCESS_COUNT_EVERY_MS} counting
     * enforces {@code max_procs}. The kernel counts every task of the user, this JVM's threads and other
     * steps included, so the limit is {@code max_procs} above every task on the host now (the fourth
     * field of /proc/loadavg): a step can always fork up to its own limit.
     */
    static long nprocBackstop(long maxProcs) {
        if (ROOT) {
            return maxProcs; // ignored by the kernel for root; kept so the command line says what was asked
        }
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return maxProcs + Long.parseLong(f[3].substring(f[3].indexOf('/') + 1));
        } catch (IOException | RuntimeException e) {
            return maxProcs + 32_768;
        }
    }

    /** The full argv: session, rlimits, the sandbox wrapper if any, then the agent's command. */
    static List<String> wrap(ProcessSpec spec) {
        Limits l = spec.limits();
        List<String> argv = new ArrayList<>(List.of("setsid", "prlimit",
                "--cpu=" + l.cpuSec(),
                "--as=" + l.memoryMb() * MB,
                "--nproc=" + nprocBackstop(l.maxProcs()),
                "--fsize=" + l.maxFileMb() * MB,
                "--nofile=" + l.maxOpenFiles(),
                "--"));
        argv.addAll(spec.wrapper());
        argv.addAll(spec.command());
        return argv;
    }

    /**
     * Starts the process and returns when it and every process carrying its token are gone.
     *
     * @param stopRequest polled while the process runs; a non-null answer kills the tree
     * @throws IOException when the process cannot be started or the log cannot be opened
     */
    public static Result run(ProcessSpec spec, Supplier<String> stopRequest) throws IOException {
        return run(spec, stopRequest, Monitor.NONE);
    }

    /**
     * As {@link #run(ProcessSpec, Supplier)}, with a monitor that sees every raw output line and may
     * end the step early.
     */
    public static Result run(ProcessSpec spec, Supplier<String> stopRequest, Monitor monitor) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(wrap(spec)).directory(spec.workdir().toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(spec.stdin() == null ? new File("/dev/null") : spec.stdin().toFile()));
        pb.environment().clear();
        pb.environment().putAll(spec.environment());
        pb.environment().put(ProcessSpec.TOKEN_VARIABLE, spec.stepToken());
        // the log sits where an earlier step's agent could write: never through a link it planted
        orchestrator.runner.artifact.JobArtifacts.clearForAppend(spec.log());
        OutputStream logOut = Files.newOutputStream(spec.log(), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                spec.appendLog() ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
        long start = System.nanoTime();
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            logOut.close();
            throw e;
        }
        LogPump pump = new LogPump(process.getInputStream(), logOut, spec.redactor(), spec.logCapBytes(), monitor);
        Future<?> pumping = PUMPS.submit(pump);

        Ending ending;
        String stopReason = null;
        boolean interrupted = false;
        long wall = spec.wallTimeout().toNanos();
        long idle = spec.idleTimeout().toNanos();
        long resultSeenAt = 0;
        boolean resultSeen = false;
        long nextCount = start + TimeUnit.MILLISECONDS.toNanos(PROCESS_COUNT_EVERY_MS);
        try {
            while (true) {
                if (process.waitFor(SUPERVISE_POLL_MS, TimeUnit.MILLISECONDS)) {
                    ending = Ending.EXITED;
                    break;
                }
                long now = System.nanoTime();
                if (now - nextCount >= 0) {
                    nextCount = now + TimeUnit.MILLISECONDS.toNanos(PROCESS_COUNT_EVERY_MS);
                    int procs = ProcessTree.countSession(process.pid());
                    if (procs > spec.limits().maxProcs()) {
                        ending = Ending.PROCESS_LIMIT;
                        stopReason = procs + " processes, over max_procs " + spec.limits().maxProcs();
                        break;
                    }
                }
                if (now - start >= wall) {
                    ending = Ending.TIMEOUT;
                    break;
                }
                if (idle > 0 && !resultSeen && now - pump.lastOutputNanos() >= idle) {
                    ending = Ending.IDLE_TIMEOUT;
                    break;
                }
                stopReason = stopRequest.get();
                if (stopReason != null) {
                    ending = Ending.STOPPED;
                    break;
                }
                stopReason = monitor.abortReason();
                if (stopReason != null) {
                    ending = Ending.ABORTED;
                    break;
                }
                if (!resultSeen && monitor.finalResultSeen()) {
                    resultSeen = true;
                    resultSeenAt = now;
                }
                if (resultSeen && now - resultSeenAt >= TimeUnit.MILLISECONDS.toNanos(RESULT_EXIT_GRACE_MS)) {
                    ending = Ending.RESULT_NO_EXIT;
                    break;
                }
            }
        } catch (InterruptedException e) {
            interrupted = true;
            ending = Ending.STOPPED;
            stopReason = "interrupted";
        }
        try {
            // also after a normal exit: whatever the step left running in the background must not outlive it
            ProcessTree.kill(process, spec.stepToken(), System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1));
            reap(process);
            pumping.get(PUMP_JOIN_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            interrupted = true;
        } catch (TimeoutException e) {
            // still reading: a process outside the tree holds the pipe (handled below)
        } catch (ExecutionException e) {
            log.warn("copying the output of process {} to its log failed: {}", process.pid(), e.getCause().toString());
        } finally {
            if (!pumping.isDone()) {
                // a holder of the pipe survived every kill; closing our end unblocks the pump
                process.getInputStream().close();
            }
            logOut.close();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        long durationMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        return new Result(ending, process.isAlive() ? -1 : process.exitValue(), stopReason, durationMs);
    }

    /** Waits for the killed process so that it does not stay a zombie; SIGKILL makes this quick. */
    private static void reap(Process process) throws InterruptedException {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
