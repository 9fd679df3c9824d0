package orchestrator.core.job;

import orchestrator.core.OrchestratorException;

/** A payload that does not describe a valid job; {@link #field()} names the offending field path. */
public final class InvalidJobException extends OrchestratorException {
    private final String field;

    public InvalidJobException(String field, String message) {
        super(field == null ? message : field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
