package orchestrator.runner.workspace;

import orchestrator.core.OrchestratorException;

/** The job's workspace could not be prepared or read; the job fails with error code {@code workspace}. */
public final class WorkspaceException extends OrchestratorException {
    public WorkspaceException(String jobId, String message, Throwable cause) {
        super(jobId, message, cause);
    }
}
