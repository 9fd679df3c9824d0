package orchestrator.core.store;

import orchestrator.core.OrchestratorException;

/** The store could not do what was asked (disk full, read-only, locked too long). Nothing was committed. */
public final class StoreUnavailableException extends OrchestratorException {
    public StoreUnavailableException(String message, Throwable cause) {
        super(null, message, cause);
    }
}
