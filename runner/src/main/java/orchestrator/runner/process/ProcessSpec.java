package orchestrator.runner.process;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import orchestrator.core.job.Limits;

/**
 * Everything needed to run one step's process.
 *
 * @param command     the agent's argv, without the setsid/prlimit wrapper
 * @param environment the child's whole environment (nothing is inherited)
 * @param stdin       file fed on stdin, or null for /dev/null
 * @param log         the step's log file
 * @param appendLog   true for a retry: the earlier attempts' output stays
 * @param idleTimeout no output for this long kills the step; {@link Duration#ZERO} = off
 * @param limits      fully resolved rlimits (every field set)
 * @param stepToken   unique marker put in the child's environment to find escaped descendants
 * @param wrapper     {@code SANDBOX_WRAPPER}'s words, placeholders substituted, put between prlimit and
 *                    the command; empty for none
 */
public record ProcessSpec(List<String> command, Path workdir, Map<String, String> environment, Path stdin, Path log,
                          boolean appendLog, Duration wallTimeout, Duration idleTimeout, Limits limits, String stepToken,
                          Redactor redactor, long logCapBytes, List<String> wrapper) {
    public static final String TOKEN_VARIABLE = "ORCH_STEP_TOKEN";

    public ProcessSpec {
        command = List.copyOf(command);
        if (command.isEmpty()) {
            throw new IllegalArgumentException("empty command");
        }
        environment = Map.copyOf(environment);
        wrapper = wrapper == null ? List.of() : List.copyOf(wrapper);
        Objects.requireNonNull(workdir, "workdir");
        Objects.requireNonNull(log, "log");
        Objects.requireNonNull(wallTimeout, "wallTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(stepToken, "stepToken");
        Objects.requireNonNull(redactor, "redactor");
        if (limits.cpuSec() == null || limits.memoryMb() == null || limits.maxProcs() == null
                || limits.maxFileMb() == null || limits.maxOpenFiles() == null) {
            throw new IllegalArgumentException("limits must be fully resolved: " + limits);
        }
    }
}
