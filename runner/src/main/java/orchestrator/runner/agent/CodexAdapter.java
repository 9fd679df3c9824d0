package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import orchestrator.core.agent.AgentDefinition;

/**
 * Codex CLI: {@code codex exec --json --skip-git-repo-check --sandbox workspace-write <args> -}, the
 * prompt on stdin ({@code -}). The operator's args may choose another sandbox ({@code -s},
 * {@code --sandbox}, {@code --dangerously-bypass-approvals-and-sandbox}); then ours is left out.
 * Codex has no allowed-tools or max-turns flag: its sandbox is the tool policy.
 *
 * <p>Output contract ({@code --json}, JSONL): {@code thread.started {thread_id}}, {@code turn.started},
 * {@code item.started/updated/completed {item: {type: agent_message|reasoning|command_execution|
 * file_change|error, text|message}}}, {@code turn.completed {usage: {input_tokens,
 * cached_input_tokens, output_tokens}}}, {@code turn.failed {error: {message}}} and top-level
 * {@code error {message}}. No cost is reported. Observed with 0.169.0 and no network (with or
 * without a key): five "Reconnecting... n/5" error events, then "Reconnecting... waiting for
 * network" about every 10 s forever; that last message makes the parser abort the step at once
 * with {@code provider_unreachable}.
 */
final class CodexAdapter implements AgentAdapter {
    static final CodexAdapter INSTANCE = new CodexAdapter();
    static final String DEFAULT_SANDBOX = "workspace-write";

    @Override
    public Invocation invocation(AgentDefinition def, StepContext ctx, StepOptions opts) {
        List<String> head = new ArrayList<>(List.of(def.binary(), "exec", "--json", "--skip-git-repo-check"));
        boolean ownSandbox = def.args().stream().anyMatch(a -> a.equals("-s") || a.startsWith("--sandbox")
                || a.startsWith("--dangerously-bypass-approvals-and-sandbox"));
        if (!ownSandbox) {
            head.addAll(List.of("--sandbox", DEFAULT_SANDBOX));
        }
        return new Invocation(AgentAdapter.argv(head, def, List.of("-")), def.env(), ctx.promptFile());
    }

    @Override
    public boolean structured() {
        return true;
    }

    @Override
    public OutputParser parser() {
        return new Parser();
    }

    static final class Parser extends OutputParser {
        @Override
        protected void event(JsonNode e) {
            switch (e.path("type").asText()) {
                case "thread.started" -> sessionId = text(e, "thread_id");
                case "item.completed" -> {
                    JsonNode item = e.path("item");
                    String type = item.path("type").asText();
                    if (type.equals("agent_message")) {
                        finalMessage = item.path("text").asText();
                    } else if (type.equals("error")) {
                        error(ErrorText.classify(item.path("message").asText()), item.path("message").asText());
                    }
                }
                case "turn.completed" -> {
                    turns++;
                    JsonNode u = e.path("usage");
                    tokensIn += u.path("input_tokens").asLong();
                    tokensOut += u.path("output_tokens").asLong();
                    resultSeen = true;
                }
                case "turn.failed" -> {
                    resultSeen = true;
                    resultIsError = true;
                    String msg = e.path("error").path("message").asText("turn failed");
                    error(ErrorText.classify(msg), msg);
                    if (errorDetail == null) {
                        errorDetail = cut(msg);
                    }
                }
                case "error" -> {
                    String msg = e.path("message").asText();
                    error(ErrorText.classify(msg), msg);
                    if (msg.contains("waiting for network")) {
                        abort("provider_unreachable", "codex cannot reach its provider: " + msg);
                    }
                }
                default -> {
                }
            }
        }
    }
}
