package orchestrator.runner.agent;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.agent.AgentDefinition;

/**
 * aider: {@code aider --message-file {prompt_file} --yes-always --no-auto-commits <args>}: it reads
 * the prompt from the file, answers yes to its own questions (it would otherwise wait on a closed
 * stdin) and leaves committing to the runner's patch. aider has no structured output; its text is
 * parsed for the per-message report line {@code Tokens: 1.2k sent, 310 received. Cost: $0.01
 * message, $0.03 session.} and for litellm's error names (AuthenticationError, RateLimitError,
 * APIConnectionError). aider is a Python package, not on npm, so no recorded run is in the tests.
 */
final class AiderAdapter implements AgentAdapter {
    static final AiderAdapter INSTANCE = new AiderAdapter();
    static final Pattern REPORT = Pattern.compile(
            "Tokens: ([0-9.]+)([km]?) sent, ([0-9.]+)([km]?) received\\.(?: Cost: \\$([0-9.]+) message, \\$([0-9.]+) session\\.)?");

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = List.of(def.binary(), "--message-file", "{prompt_file}", "--yes-always", "--no-auto-commits");
        return new Invocation(AgentAdapter.argv(head, def, List.of()), def.env(), null);
    }

    @Override
    public boolean structured() {
        return false;
    }

    @Override
    public OutputParser parser() {
        return new OutputParser() {
            @Override
            protected void event(com.fasterxml.jackson.databind.JsonNode e) {
                finalMessage = e.toString();
            }

            @Override
            protected void text(String line) {
                Matcher m = REPORT.matcher(line);
                if (m.find()) {
                    turns++;
                    tokensIn += amount(m.group(1), m.group(2));
                    tokensOut += amount(m.group(3), m.group(4));
                    if (m.group(6) != null) {
                        costUsd = Double.parseDouble(m.group(6));
                    }
                    return;
                }
                finalMessage = cut(line);
                super.text(line);
            }
        };
    }

    static long amount(String number, String unit) {
        double v = Double.parseDouble(number);
        return Math.round(unit.equals("k") ? v * 1_000 : unit.equals("m") ? v * 1_000_000 : v);
    }
}
