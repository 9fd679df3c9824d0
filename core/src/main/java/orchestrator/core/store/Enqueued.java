package orchestrator.core.store;

import orchestrator.core.job.JobState;

/** The answer to an enqueue: the job's id and state, and whether this call created it (false: an idempotent repeat). */
public record Enqueued(String jobId, String project, JobState state, boolean created) {
}
