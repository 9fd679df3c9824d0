package orchestrator.core.store;

import java.time.Instant;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.Source;

/**
 * A runner's claim on a running job. Every write a runner makes names {@code (jobId, token)}; once
 * another process re-leased the job, the token no longer matches and the write is refused.
 *
 * @param resumeStep the step to start at when a paused job was approved, or null to start at the first
 */
public record Lease(String jobId, long token, String owner, int attempt, Instant expiresAt, String project,
                    Source source, JobSpec spec, String resumeStep) {
}
