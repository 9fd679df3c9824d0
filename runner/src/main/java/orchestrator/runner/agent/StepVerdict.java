package orchestrator.runner.agent;

import java.util.Locale;
import orchestrator.core.job.Limits;
import orchestrator.runner.process.StepProcess;

/**
 * How one attempt of a step ended, in the operator's terms: a status, an error code from the
 * documented set and a message that says what happened. Messages hold raw agent text: the caller
 * redacts them before they go anywhere.
 */
public record StepVerdict(String status, Integer exitCode, String errorCode, String message, String finalMessage,
                          boolean retryable) {
    /** Killed by SIGKILL: the hard CPU rlimit, the kernel's OOM killer or an outside kill. */
    static final int EXIT_SIGKILL = 128 + 9;
    /** Killed by SIGXCPU: the soft CPU rlimit ({@code prlimit --cpu} sets soft = hard). */
    static final int EXIT_SIGXCPU = 128 + 24;
    /** Killed by SIGXFSZ: the file-size rlimit. */
    static final int EXIT_SIGXFSZ = 128 + 25;

    public static StepVerdict succeeded(String finalMessage) {
        return new StepVerdict("succeeded", 0, null, null, finalMessage, false);
    }

    /** A plain nonzero exit may be transient and is retried (max_retries); a recognised cause is not. */
    static StepVerdict failed(Integer exit, String code, String message, String finalMessage) {
        return new StepVerdict("failed", exit, code, message, finalMessage, "agent_exit_nonzero".equals(code));
    }

    /**
     * @param abortCode  the code the step's monitor killed it with (ending ABORTED)
     * @param timeoutSec the step's wall timeout, for the message
     * @param idleSec    the step's idle timeout, for the message
     */
    public static StepVerdict of(AgentAdapter adapter, StepProcess.Result res, AgentReport r, String abortCode,
                                 Limits limits, int timeoutSec, long idleSec) {
        String fm = r.finalMessage();
        Integer exit = res.exitCode();
        return switch (res.ending()) {
            case STOPPED -> new StepVerdict("cancelled", exit, "cancelled", "stopped: " + res.stopReason(), fm, false);
            case ABORTED -> failed(exit, abortCode == null ? "agent_exit_nonzero" : abortCode, res.stopReason(), fm);
            // a CLI killed by a timer while it was retrying a provider: the recognised cause says more than the timer
            case TIMEOUT -> failed(exit, r.errorCode() != null ? r.errorCode() : "timeout",
                    "killed after timeout_sec " + timeoutSec + lastError(r), fm);
            case IDLE_TIMEOUT -> failed(exit, r.errorCode() != null ? r.errorCode() : "idle_timeout",
                    "killed after " + idleSec + " s without output" + lastError(r), fm);
            case RESULT_NO_EXIT -> r.resultIsError()
                    ? failed(exit, r.errorCode() != null ? r.errorCode() : "agent_exit_nonzero",
                            "the agent reported an error and did not exit: " + detail(r), fm)
                    : succeeded(fm);
            case EXITED -> exited(adapter, exit, r, limits);
        };
    }

    private static StepVerdict exited(AgentAdapter adapter, int exit, AgentReport r, Limits limits) {
        String fm = r.finalMessage();
        if (r.resultSeen() && r.resultIsError()) {
            return failed(exit, r.errorCode() != null ? r.errorCode() : "agent_exit_nonzero",
                    "the agent reported an error (exit " + exit + "): " + detail(r), fm);
        }
        if (exit == 0) {
            if (adapter.structured() && (r.events() == 0 || !r.resultSeen())) {
                return failed(exit, "parse_error", r.events() == 0
                        ? "exited 0 but printed no structured output to parse" + tail(r)
                        : "exited 0 without its final result event (" + r.events() + " events parsed)", fm);
            }
            return succeeded(fm);
        }
        String limit = limitHit(exit, r, limits);
        if (limit != null) {
            // the same limit would be hit again: not worth a retry
            return new StepVerdict("failed", exit, "agent_exit_nonzero", limit, fm, false);
        }
        String code = r.errorCode() != null ? r.errorCode() : adapter.exitCodeMeaning(exit);
        if (code != null) {
            return failed(exit, code, "exited with code " + exit + ": " + detail(r), fm);
        }
        return failed(exit, "agent_exit_nonzero", "exited with code " + exit + tail(r), fm);
    }

    /** Says which rlimit ended the process, when its exit status or last words show one. */
    static String limitHit(int exit, AgentReport r, Limits limits) {
        if (exit == EXIT_SIGXCPU) {
            return "hit its CPU limit (cpu_sec " + limits.cpuSec() + "): killed by SIGXCPU";
        }
        if (exit == EXIT_SIGKILL) {
            return "killed by SIGKILL: over its CPU limit (cpu_sec " + limits.cpuSec()
                    + ") or its memory (the kernel's OOM killer)";
        }
        if (exit == EXIT_SIGXFSZ) {
            return "hit its file size limit (max_file_mb " + limits.maxFileMb() + "): killed by SIGXFSZ";
        }
        for (String line : r.tail()) {
            String l = line.toLowerCase(Locale.ROOT);
            if (l.contains("memoryerror") || l.contains("cannot allocate memory") || l.contains("out of memory")
                    || l.contains("bad_alloc") || l.contains("heap out of memory") || l.contains("failed to reserve")) {
                return "over its memory limit (memory_mb " + limits.memoryMb() + "), exited with code " + exit + ": " + line;
            }
        }
        return null;
    }

    private static String detail(AgentReport r) {
        if (r.errorDetail() != null) {
            return r.errorDetail();
        }
        if (r.finalMessage() != null) {
            return OutputParser.cut(r.finalMessage());
        }
        return r.tail().isEmpty() ? "(no message)" : r.tail().get(r.tail().size() - 1);
    }

    private static String lastError(AgentReport r) {
        return r.errorDetail() == null ? "" : "; last error: " + r.errorDetail();
    }

    private static String tail(AgentReport r) {
        return r.tail().isEmpty() ? "" : ": " + r.tail().get(r.tail().size() - 1);
    }
}
