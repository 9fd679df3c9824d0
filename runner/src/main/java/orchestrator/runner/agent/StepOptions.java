package orchestrator.runner.agent;

import java.util.List;

/**
 * What the job asks of a step's CLI beyond the prompt.
 *
 * @param allowedTools the step's {@code allowed_tools}, or null when the step does not restrict tools
 * @param maxTurns     the turns left in the job's {@code policy.budget.max_turns}, or null for unlimited
 * @param resumeSession the agent's own session id to resume (a continued job), or null for a new session;
 *                      an adapter whose CLI cannot resume ignores it (the prompt then carries the earlier report)
 */
public record StepOptions(List<String> allowedTools, Integer maxTurns, String resumeSession) {
    public static final StepOptions NONE = new StepOptions(null, null, null);

    public StepOptions(List<String> allowedTools, Integer maxTurns) {
        this(allowedTools, maxTurns, null);
    }

    public StepOptions {
        allowedTools = allowedTools == null ? null : List.copyOf(allowedTools);
    }
}
