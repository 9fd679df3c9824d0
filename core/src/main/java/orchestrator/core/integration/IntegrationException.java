package orchestrator.core.integration;

import orchestrator.core.OrchestratorException;

/**
 * A call to GitHub or Slack that did not succeed. The message names the method, the path and the status,
 * never a token: it is logged and kept in the job's audit trail.
 */
public final class IntegrationException extends OrchestratorException {
    private final int status;
    private final boolean retryable;

    public IntegrationException(String message, int status, boolean retryable) {
        super(message);
        this.status = status;
        this.retryable = retryable;
    }

    /** The HTTP status, or 0 when there was no answer. */
    public int status() {
        return status;
    }

    /** Worth another attempt later: no answer, 429 or a 5xx. A 4xx will fail the same way again. */
    public boolean retryable() {
        return retryable;
    }
}
