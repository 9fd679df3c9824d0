package orchestrator.core.store;

import java.util.Objects;
import orchestrator.core.job.JobState;

/** How many jobs of {@code project} (null: jobs without a project) are in {@code state}. */
public record ProjectStateCount(String project, JobState state, long count) {
    public ProjectStateCount {
        Objects.requireNonNull(state, "state");
    }
}
