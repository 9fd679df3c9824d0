package orchestrator.core.store;

import java.util.Set;
import orchestrator.core.job.JobState;

/**
 * A listing filter. {@code projects} null means every project (a {@code *} token); an empty set
 * sees only jobs without a project.
 */
public record JobQuery(Set<String> projects, boolean includeUnscoped, JobState state, int limit) {
    public static final int MAX_LIMIT = 500;

    public JobQuery {
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT);
        }
        projects = projects == null ? null : Set.copyOf(projects);
    }
}
