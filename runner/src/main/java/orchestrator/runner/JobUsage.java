package orchestrator.runner;

import orchestrator.core.job.Budget;
import orchestrator.runner.agent.AgentReport;

/** What a job's agents spent so far: a value, so a running step's monitor holds a stable copy. */
record JobUsage(double costUsd, long tokensIn, long tokensOut, int turns) {
    static final JobUsage NONE = new JobUsage(0, 0, 0, 0);

    JobUsage plus(AgentReport r) {
        return new JobUsage(costUsd + r.costUsd(), tokensIn + r.tokensIn(), tokensOut + r.tokensOut(), turns + r.turns());
    }

    long tokens() {
        return tokensIn + tokensOut;
    }

    /**
     * Which budget limit this usage broke, or null.
     *
     * @param reached true: a limit merely reached counts (before starting a step: nothing is left to spend)
     */
    String overBudget(Budget b, boolean reached) {
        if (b.maxCostUsd() != null && (costUsd > b.maxCostUsd() || reached && costUsd >= b.maxCostUsd())) {
            return String.format(java.util.Locale.ROOT, "cost $%.4f of max_cost_usd %s", costUsd, b.maxCostUsd());
        }
        if (b.maxTokens() != null && (tokens() > b.maxTokens() || reached && tokens() >= b.maxTokens())) {
            return tokens() + " tokens of max_tokens " + b.maxTokens();
        }
        if (b.maxTurns() != null && (turns > b.maxTurns() || reached && turns >= b.maxTurns())) {
            return turns + " turns of max_turns " + b.maxTurns();
        }
        return null;
    }
}
