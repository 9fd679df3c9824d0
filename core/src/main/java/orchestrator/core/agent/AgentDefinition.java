package orchestrator.core.agent;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * An agent as the operator defined it (never a payload: a payload that could name a command would
 * hand every token holder a shell).
 *
 * @param type    {@code claude}, {@code codex}, {@code opencode}, {@code gemini}, {@code aider},
 *                {@code command} or {@code simulate}
 * @param binary  the executable for the CLI types (default: the type's usual binary name)
 * @param args    extra arguments appended to a CLI's headless invocation
 * @param argv    the full command line of a {@code command} agent, with placeholders
 * @param env     extra environment variables for the agent's process
 * @param delayMs for {@code simulate}: how long a simulated step takes
 */
public record AgentDefinition(String name, String type, String binary, List<String> args, List<String> argv,
                              Map<String, String> env, long delayMs) {
    public static final Set<String> CLI_TYPES = Set.of("claude", "codex", "opencode", "gemini", "aider");
    public static final Set<String> TYPES = Set.of("claude", "codex", "opencode", "gemini", "aider", "command", "simulate");

    public AgentDefinition {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("agent '" + name + "': type must be one of " + new java.util.TreeSet<>(TYPES) + ", got '" + type + "'");
        }
        args = args == null ? List.of() : List.copyOf(args);
        argv = argv == null ? List.of() : List.copyOf(argv);
        env = env == null ? Map.of() : Map.copyOf(env);
        if (type.equals("command") && argv.isEmpty()) {
            throw new IllegalArgumentException("agent '" + name + "': a command agent needs a non-empty argv");
        }
        if (delayMs < 0) {
            throw new IllegalArgumentException("agent '" + name + "': delay_ms must not be negative");
        }
        if (binary == null && CLI_TYPES.contains(type)) {
            binary = type;
        }
    }

    /** A built-in agent: the CLI of the same name with no extra arguments. */
    public static AgentDefinition builtIn(String type) {
        return new AgentDefinition(type, type, null, List.of(), List.of(), Map.of(), 0);
    }
}
