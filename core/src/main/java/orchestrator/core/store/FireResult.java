package orchestrator.core.store;

/** What {@link JobStore#fire} did. */
public record FireResult(Kind kind, String jobId) {
    public enum Kind {
        /** the fire was recorded and its job enqueued */
        ENQUEUED,
        /** the fire was recorded as skipped because a job of the schedule is still active */
        SKIPPED_OVERLAP,
        /** the fire was recorded as skipped on request (e.g. a misfire policy) */
        SKIPPED,
        /** another scheduler (or an earlier run) already recorded this fire: nothing was done */
        ALREADY_FIRED
    }
}
