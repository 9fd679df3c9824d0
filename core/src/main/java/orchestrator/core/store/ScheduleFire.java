package orchestrator.core.store;

import java.time.Instant;
import orchestrator.core.job.JobState;

/**
 * One recorded fire of a schedule. {@code outcome}: {@code enqueued} (with the job's id and current
 * state), or {@code skipped} with a reason (e.g. {@code overlap}, {@code misfire}).
 */
public record ScheduleFire(String scheduleId, Instant fireTime, String jobId, String outcome, String reason, JobState jobState) {
}
