package orchestrator.runner.agent;

import java.util.List;

/**
 * What the job asks of a step's CLI beyond the prompt.
 *
 * @param allowedTools the step's {@code allowed_tools}, or null when the step does not restrict tools
 * @param maxTurns     the turns left in the job's {@code policy.budget.max_turns}, or null for unlimited
 * @param resumeSession the agent's own session id to resume (a continued job), or null for a new session;
 *                      an adapter whose CLI cannot resume ignores it (the prompt then carries the earlier report)
 * @param maxCostUsd   what is left of the job's {@code policy.budget.max_cost_usd}, or null for unlimited: a CLI
 *                     that prints its cost only at the end (Claude Code) can stop itself at it mid-run
 */
public record StepOptions(List<String> allowedTools, Integer maxTurns, String resumeSession, Double maxCostUsd) {
    public static final StepOptions NONE = new StepOptions(null, null, null, null);

    public StepOptions(List<String> allowedTools, Integer maxTurns) {
        this(allowedTools, maxTurns, null, null);
    }

    public StepOptions(List<String> allowedTools, Integer maxTurns, String resumeSession) {
        this(allowedTools, maxTurns, resumeSession, null);
    }

    public StepOptions {
        allowedTools = allowedTools == null ? null : List.copyOf(allowedTools);
    }
}
