package orchestrator.runner.agent;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.agent.AgentDefinition;

/**
 * Turns an operator-defined agent into a command line. The prompt always travels in a file or on
 * stdin, never as a huge argument, except where a CLI offers no other way (noted per CLI).
 */
public final class AgentLaunch {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{(prompt_file|workdir|job_id|step_id|artifacts_dir)}");

    private AgentLaunch() {
    }

    /** True when the step runs no process: a {@code simulate} agent, or a CLI agent while ENABLE_REAL_CLI is off. */
    public static boolean simulates(AgentDefinition def, boolean realCli) {
        return def.type().equals("simulate") || AgentDefinition.CLI_TYPES.contains(def.type()) && !realCli;
    }

    /** The adapter's invocation with every placeholder substituted. */
    public static Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        Invocation inv = AgentAdapter.forType(def.type()).invocation(def, ctx, opts);
        List<String> out = new ArrayList<>(inv.argv().size());
        for (String a : inv.argv()) {
            out.add(substitute(a, ctx));
        }
        return new Invocation(out, inv.env(), inv.stdin());
    }

    /** Replaces every placeholder in one pass, so a value that looks like a placeholder is never expanded again. */
    public static String substitute(String arg, StepContext ctx) {
        Map<String, String> values = Map.of(
                "prompt_file", ctx.promptFile().toString(),
                "workdir", ctx.workdir().toString(),
                "job_id", ctx.jobId(),
                "step_id", ctx.stepId(),
                "artifacts_dir", ctx.artifactsDir().toString());
        Matcher m = PLACEHOLDER.matcher(arg);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(sb, Matcher.quoteReplacement(values.get(m.group(1))));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** The simulated agent's final message: enough to see which agent, role and prompt a step had. */
    public static String simulatedMessage(AgentDefinition def, String role, String prompt) {
        String first = prompt.strip().lines().findFirst().orElse("");
        if (first.length() > 200) {
            first = first.substring(0, 200) + "…";
        }
        return "Simulated " + def.name() + " (" + def.type() + ") as " + (role == null ? "agent" : role) + ": " + first;
    }
}
