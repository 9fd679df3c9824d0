package orchestrator.core.job;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One step of a job: one agent run. {@code onFailure} is {@code stop}, {@code continue},
 * {@code ask_human} or {@code goto:<step_id>}.
 */
public record Step(String stepId, String agent, String role, String prompt, int timeoutSec, int idleTimeoutSec,
                   int maxRetries, int retryBackoffSec, List<String> inputArtifacts, List<String> applyPatchesFrom,
                   List<String> allowedTools, String onFailure, Limits limits) {
    public static final Pattern STEP_ID = Pattern.compile("^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$");
    public static final Pattern ON_FAILURE = Pattern.compile("^(stop|continue|ask_human|goto:[0-9A-Za-z][0-9A-Za-z_-]{0,63})$");

    public Step {
        Objects.requireNonNull(stepId, "step_id");
        Objects.requireNonNull(agent, "agent");
        Objects.requireNonNull(prompt, "prompt");
        if (!STEP_ID.matcher(stepId).matches()) {
            throw new IllegalArgumentException("step_id '" + stepId + "' must match " + STEP_ID.pattern());
        }
        if (timeoutSec < 1) {
            throw new IllegalArgumentException("timeout_sec must be at least 1");
        }
        if (idleTimeoutSec < 0) {
            throw new IllegalArgumentException("idle_timeout_sec must not be negative");
        }
        onFailure = onFailure == null ? "stop" : onFailure;
        if (!ON_FAILURE.matcher(onFailure).matches()) {
            throw new IllegalArgumentException("on_failure '" + onFailure + "' must be stop, continue, ask_human or goto:<step_id>");
        }
        inputArtifacts = inputArtifacts == null ? List.of() : List.copyOf(inputArtifacts);
        applyPatchesFrom = applyPatchesFrom == null ? List.of() : List.copyOf(applyPatchesFrom);
        allowedTools = allowedTools == null ? null : List.copyOf(allowedTools);
        limits = limits == null ? Limits.NONE : limits;
    }
}
