package orchestrator.core.store;

import java.time.Instant;
import java.util.Set;
import orchestrator.core.job.JobState;

/**
 * A listing filter and page, newest first. {@code projects} null means every project (a {@code *}
 * token); an empty set sees only jobs without a project. Every other filter is null for "any".
 *
 * @param beforeId      keyset cursor: only jobs whose id sorts before it (the last id of the previous page)
 * @param tag           jobs whose spec lists this tag
 * @param sourceType    {@code webhook}, {@code cron}, {@code cli}, {@code api}, …
 * @param createdAfter  jobs created at or after this instant
 * @param createdBefore jobs created strictly before this instant
 * @param agent         jobs with a step that runs this agent
 * @param goalText      jobs whose goal contains this text, ignoring ASCII case
 */
public record JobQuery(Set<String> projects, boolean includeUnscoped, JobState state, int limit, String beforeId,
                       String tag, String sourceType, Instant createdAfter, Instant createdBefore, String agent,
                       String goalText) {
    public static final int MAX_LIMIT = 500;

    public JobQuery {
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT);
        }
        projects = projects == null ? null : Set.copyOf(projects);
    }

    /** Without the agent and goal-text filters. */
    public JobQuery(Set<String> projects, boolean includeUnscoped, JobState state, int limit, String beforeId,
                    String tag, String sourceType, Instant createdAfter, Instant createdBefore) {
        this(projects, includeUnscoped, state, limit, beforeId, tag, sourceType, createdAfter, createdBefore, null, null);
    }

    /** The first page, filtered by scope and state only. */
    public JobQuery(Set<String> projects, boolean includeUnscoped, JobState state, int limit) {
        this(projects, includeUnscoped, state, limit, null, null, null, null, null);
    }
}
