package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import orchestrator.core.agent.AgentDefinition;

/**
 * An operator's command ({@code "type": "command"}): its argv as written, stdin closed, output
 * kept as text. Its last line is its final message. Its output is not searched for provider
 * errors: a command's "connection refused" is about whatever it talks to, not an AI provider.
 */
final class CommandAdapter implements AgentAdapter {
    static final CommandAdapter INSTANCE = new CommandAdapter();

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        return new Invocation(def.argv(), def.env(), null);
    }

    @Override
    public OutputParser parser() {
        return new OutputParser() {
            @Override
            protected void event(JsonNode e) {
                finalMessage = e.toString();
            }

            @Override
            protected void text(String line) {
                finalMessage = cut(line);
            }
        };
    }

    @Override
    public boolean structured() {
        return false;
    }

    @Override
    public boolean callsApi() {
        return false;
    }
}
