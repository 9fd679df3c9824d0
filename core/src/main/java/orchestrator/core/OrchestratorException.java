package orchestrator.core;

/**
 * The one unchecked base exception of the project. When it concerns a job, its message
 * starts with the job id so that a log line or an error body always names the job.
 */
public class OrchestratorException extends RuntimeException {
    private final String jobId;

    public OrchestratorException(String message) {
        this(null, message, null);
    }

    public OrchestratorException(String jobId, String message, Throwable cause) {
        super(jobId == null ? message : "job " + jobId + ": " + message, cause);
        this.jobId = jobId;
    }

    /** The job this error is about, or null. */
    public String jobId() {
        return jobId;
    }
}
