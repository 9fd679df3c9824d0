package orchestrator.core.store;

import java.time.Instant;
import java.util.Objects;
import orchestrator.core.job.JobState;

/**
 * The jobs of {@code project} (null: without a project) that ended in {@code state} during the minute that
 * starts at {@code minute}, with what they cost.
 */
public record FinishedMinute(String project, Instant minute, JobState state, long count, double costUsd, long tokensIn,
                             long tokensOut) {
    public FinishedMinute {
        Objects.requireNonNull(minute, "minute");
        Objects.requireNonNull(state, "state");
    }
}
