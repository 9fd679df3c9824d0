package orchestrator.core.job;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One step of a job: one agent run. {@code onFailure} is {@code stop}, {@code continue},
 * {@code ask_human} or {@code goto:<step_id>}.
 *
 * @param continues the earlier step whose agent session this step resumes: set only on the steps that
 *                  {@code POST /jobs/{id}/continue} adds, never from a payload
 */
public record Step(String stepId, String agent, String role, String prompt, int timeoutSec, int idleTimeoutSec,
                   int maxRetries, int retryBackoffSec, List<String> inputArtifacts, List<String> applyPatchesFrom,
                   List<String> allowedTools, String onFailure, Limits limits, String continues) {
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

    /** A step of a payload or a schedule: it continues nothing. */
    public Step(String stepId, String agent, String role, String prompt, int timeoutSec, int idleTimeoutSec,
                int maxRetries, int retryBackoffSec, List<String> inputArtifacts, List<String> applyPatchesFrom,
                List<String> allowedTools, String onFailure, Limits limits) {
        this(stepId, agent, role, prompt, timeoutSec, idleTimeoutSec, maxRetries, retryBackoffSec, inputArtifacts,
                applyPatchesFrom, allowedTools, onFailure, limits, null);
    }

    /**
     * The step {@code continue} adds after this one: the same agent, role, limits and timers, the
     * operator's prompt, resuming this step's agent session.
     */
    public Step continuation(String newStepId, String newPrompt) {
        return new Step(newStepId, agent, role, newPrompt, timeoutSec, idleTimeoutSec, maxRetries, retryBackoffSec,
                List.of(), List.of(), allowedTools, "stop", limits, stepId);
    }
}
