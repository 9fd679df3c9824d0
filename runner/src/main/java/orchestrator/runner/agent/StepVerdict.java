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

    /**
     * A plain nonzero exit may be transient and is retried (max_retries), and so are the provider's own
     * transient answers (429 after its retry-after, 5xx); every other recognised cause would fail again.
     */
    static StepVerdict failed(Integer exit, String code, String message, String finalMessage) {
        return new StepVerdict("failed", exit, code, message, finalMessage, RETRYABLE.contains(code));
    }

    static final java.util.Set<String> RETRYABLE = java.util.Set.of("agent_exit_nonzero", "rate_limited", "provider_error");

    /**
     * @param abortCode  the code the step's monitor killed it with, or asked to (a budget crossed by the
     *                   last event of a CLI that then exited at once still ends {@code budget_exceeded})
     * @param timeoutSec the step's wall timeout, for the message
     * @param idleSec    the step's idle timeout, for the message
     */
    public static StepVerdict of(AgentAdapter adapter, StepProcess.Result res, AgentReport r, String abortCode,
                                 Limits limits, int timeoutSec, long idleSec) {
        String fm = r.finalMessage();
        // a process the runner killed has no exit status of its own worth showing (the kernel's 137, or
        // the 0 of a wrapper whose child was killed): only a process that exited by itself has one
        Integer killed = null;
        return switch (res.ending()) {
            case STOPPED -> new StepVerdict("cancelled", killed, "cancelled", "stopped: " + res.stopReason(), fm, false);
            case ABORTED -> failed(killed, abortCode == null ? "agent_exit_nonzero" : abortCode, res.stopReason(), fm);
            // the runner's own timers are facts; what the output said is only a guess at why, so it goes
            // in the message (a CLI printing "Unable to connect" on every start must not make a stall,
            // a timeout and a crash read the same)
            // the same fork would be over the limit again: not retried
            case PROCESS_LIMIT -> new StepVerdict("failed", killed, "limit_exceeded", "killed: " + res.stopReason(), fm, false);
            case TIMEOUT -> failed(killed, "timeout", "killed after timeout_sec " + timeoutSec + lastError(r), fm);
            case IDLE_TIMEOUT -> failed(killed, "idle_timeout", "killed after " + idleSec + " s without output" + lastError(r), fm);
            case RESULT_NO_EXIT -> abortCode != null
                    ? failed(killed, abortCode, "the agent printed its result but did not exit; " + abortReason(r, abortCode), fm)
                    : r.resultIsError()
                    ? failed(killed, r.errorCode() != null ? r.errorCode() : "agent_exit_nonzero",
                            "the agent reported an error and did not exit: " + detail(r), fm)
                    : denied(killed, r, fm);
            case EXITED -> abortCode != null
                    ? failed(res.exitCode(), abortCode, "exited with code " + res.exitCode() + " after " + abortReason(r, abortCode), fm)
                    : exited(adapter, res.exitCode(), r, limits);
        };
    }

    private static String abortReason(AgentReport r, String abortCode) {
        return r.abortMessage() != null ? r.abortMessage() : abortCode;
    }

    /** Success, unless the CLI refused a tool call on the way: then the step did not do what it was asked. */
    private static StepVerdict denied(Integer exit, AgentReport r, String fm) {
        if (r.deniedTools().isEmpty()) {
            return new StepVerdict("succeeded", exit, null, null, fm, false);
        }
        return new StepVerdict("failed", exit, "tool_denied", "the agent was refused " + r.deniedTools().size()
                + " tool call(s): " + OutputParser.cut(String.join("; ", r.deniedTools())), fm, false);
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
            return denied(exit, r, fm);
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
