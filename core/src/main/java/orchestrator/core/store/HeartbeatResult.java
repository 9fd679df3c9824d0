package orchestrator.core.store;

/** What a heartbeat learned about one lease. */
public record HeartbeatResult(String jobId, Status status) {
    public enum Status {
        /** the lease was extended */
        ALIVE,
        /** extended, and someone asked to cancel the job: kill its step */
        CANCEL_REQUESTED,
        /** the lease is gone (expired and taken, or the job ended): stop working on it, write nothing */
        LOST
    }
}
