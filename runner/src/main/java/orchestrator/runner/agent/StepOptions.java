package orchestrator.runner.agent;

import java.util.List;

/**
 * What the job asks of a step's CLI beyond the prompt.
 *
 * @param allowedTools the step's {@code allowed_tools}, or null when the step does not restrict tools
 * @param maxTurns     the turns left in the job's {@code policy.budget.max_turns}, or null for unlimited
 */
public record StepOptions(List<String> allowedTools, Integer maxTurns) {
    public static final StepOptions NONE = new StepOptions(null, null);

    public StepOptions {
        allowedTools = allowedTools == null ? null : List.copyOf(allowedTools);
    }
}
