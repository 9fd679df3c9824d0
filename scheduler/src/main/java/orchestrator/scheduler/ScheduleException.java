package orchestrator.scheduler;

import orchestrator.core.OrchestratorException;

/** A request about a schedule that cannot be served: an unknown id, or a schedule whose file is broken. */
public final class ScheduleException extends OrchestratorException {
    public ScheduleException(String message) {
        super(message);
    }
}
