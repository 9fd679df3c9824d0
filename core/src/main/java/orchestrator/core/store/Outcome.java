package orchestrator.core.store;

import java.util.Map;
import java.util.Objects;
import orchestrator.core.job.JobState;

/**
 * How a runner ends its lease on a job: a final state, or {@code NEEDS_HUMAN} with the step to resume at.
 */
public record Outcome(JobState state, String errorCode, String errorMessage, Map<String, Object> result,
                      double costUsd, long tokensIn, long tokensOut, String resumeStep) {
    public Outcome {
        Objects.requireNonNull(state, "state");
        if (!state.isFinal() && state != JobState.NEEDS_HUMAN) {
            throw new IllegalArgumentException("an outcome must be final or needs_human, not " + state.wire());
        }
        if (state == JobState.SUCCEEDED && errorCode != null) {
            throw new IllegalArgumentException("a succeeded outcome has no error code");
        }
        if (state != JobState.SUCCEEDED && errorCode == null) {
            throw new IllegalArgumentException("a " + state.wire() + " outcome needs an error code");
        }
        result = result == null ? Map.of() : result;
    }

    public static Outcome succeeded(Map<String, Object> result, double cost, long in, long out) {
        return new Outcome(JobState.SUCCEEDED, null, null, result, cost, in, out, null);
    }

    public static Outcome failed(String code, String message, Map<String, Object> result, double cost, long in, long out) {
        return new Outcome(JobState.FAILED, code, message, result, cost, in, out, null);
    }
}
