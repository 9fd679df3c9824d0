package orchestrator.core.store;

import orchestrator.core.job.JobState;

/** The answer to an operator action (cancel, approve, reject, retry). */
public record ActionResult(Kind kind, JobState state, String message) {
    public enum Kind { DONE, NOT_FOUND, CONFLICT }

    static ActionResult notFound(String jobId) {
        return new ActionResult(Kind.NOT_FOUND, null, "no job " + jobId);
    }
}
