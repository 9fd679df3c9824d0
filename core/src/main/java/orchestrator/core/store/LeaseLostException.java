package orchestrator.core.store;

import orchestrator.core.OrchestratorException;

/** A runner wrote with a lease token that is no longer the job's: another process owns the job now. */
public final class LeaseLostException extends OrchestratorException {
    public LeaseLostException(String jobId, long token) {
        super(jobId, "lease token " + token + " is no longer valid; the write was refused", null);
    }
}
