package orchestrator.core.job;

/** A job's spending limits; a null field is unlimited. */
public record Budget(Double maxCostUsd, Long maxTokens, Integer maxTurns) {
    public static final Budget UNLIMITED = new Budget(null, null, null);

    public Budget {
        if (maxCostUsd != null && !(maxCostUsd > 0)) {
            throw new IllegalArgumentException("max_cost_usd must be positive, got " + maxCostUsd);
        }
        if (maxTokens != null && maxTokens <= 0) {
            throw new IllegalArgumentException("max_tokens must be positive, got " + maxTokens);
        }
        if (maxTurns != null && maxTurns <= 0) {
            throw new IllegalArgumentException("max_turns must be positive, got " + maxTurns);
        }
    }
}
