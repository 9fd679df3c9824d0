package orchestrator.core.config;

import orchestrator.core.OrchestratorException;

/** A bad configuration value; the message starts with the variable's name. Stops the process at start. */
public final class ConfigException extends OrchestratorException {
    private final String variable;

    public ConfigException(String variable, String message) {
        super(variable + ": " + message);
        this.variable = variable;
    }

    public String variable() {
        return variable;
    }
}
