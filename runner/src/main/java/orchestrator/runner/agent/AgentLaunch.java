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

    public static Invocation invocation(AgentDefinition def, StepContext ctx, String prompt) {
        String bin = def.binary();
        List<String> argv = new ArrayList<>();
        var stdin = ctx.promptFile();
        switch (def.type()) {
            case "command" -> {
                argv.addAll(def.argv());
                stdin = null;
            }
            // stream-json needs --verbose in print mode; the final "result" event carries is_error and cost
            case "claude" -> argv.addAll(List.of(bin, "-p", "--output-format", "stream-json", "--verbose"));
            // "-" makes codex read the prompt from stdin
            case "codex" -> argv.addAll(List.of(bin, "exec", "--json", "--skip-git-repo-check"));
            // opencode run takes the message as arguments only; the payload parser bounds a prompt's size
            case "opencode" -> argv.addAll(List.of(bin, "run", "--format", "json"));
            case "gemini" -> argv.addAll(List.of(bin, "--output-format", "json", "-p", "Follow the instructions given on stdin."));
            case "aider" -> {
                argv.addAll(List.of(bin, "--message-file", "{prompt_file}", "--yes-always", "--no-auto-commits"));
                stdin = null;
            }
            default -> throw new IllegalArgumentException("agent '" + def.name() + "' of type " + def.type() + " runs no process");
        }
        argv.addAll(def.args());
        if (def.type().equals("codex")) {
            argv.add("-");
        } else if (def.type().equals("opencode")) {
            argv.add(prompt);
            stdin = null;
        }
        List<String> out = new ArrayList<>(argv.size());
        for (String a : argv) {
            out.add(substitute(a, ctx));
        }
        return new Invocation(out, def.env(), stdin);
    }

    /** Replaces every placeholder in one pass, so a value that looks like a placeholder is never expanded again. */
    static String substitute(String arg, StepContext ctx) {
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
