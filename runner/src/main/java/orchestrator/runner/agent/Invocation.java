package orchestrator.runner.agent;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * How to start an agent's process for one step.
 *
 * @param argv  the command line, placeholders already substituted
 * @param env   variables added to the allowlisted environment
 * @param stdin file fed on stdin, or null for /dev/null
 */
public record Invocation(List<String> argv, Map<String, String> env, Path stdin) {
    public Invocation {
        argv = List.copyOf(argv);
        env = Map.copyOf(env);
    }
}
