package orchestrator.runner.agent;

import java.util.List;

/**
 * What a step's output said, as far as its adapter's parser understood it.
 *
 * @param resultSeen    the CLI printed its final result event (Claude {@code result}, Codex
 *                      {@code turn.completed}/{@code turn.failed}, Gemini {@code result}, OpenCode's last
 *                      {@code step_finish})
 * @param resultIsError the CLI itself said the run failed ({@code is_error}, {@code status: error}, …)
 * @param errorCode     the operator-facing code recognised in the output (auth_failed, rate_limited,
 *                      provider_unreachable, budget_exceeded, policy), or null
 * @param errorDetail   the text that code was recognised in (raw: redact before showing it)
 * @param events        structured (JSON) lines parsed
 * @param abortCode     non-null when the output alone shows the step can never succeed and should be
 *                      killed now (e.g. Codex "waiting for network")
 * @param tail          the last plain-text lines, for an error message
 * @param deniedTools   tool calls the CLI refused to run (its permission policy or a tool it does not
 *                      have): a run that "succeeded" without doing what it was asked
 * @param retryAfterMs  the provider's own delay before a retry ({@code retry-after}), when the CLI showed
 *                      it, else null
 */
public record AgentReport(String finalMessage, String sessionId, int turns, long tokensIn, long tokensOut, double costUsd,
                          boolean resultSeen, boolean resultIsError, String errorCode, String errorDetail, int events,
                          String abortCode, String abortMessage, List<String> tail, List<String> deniedTools,
                          Long retryAfterMs) {
    public AgentReport {
        tail = List.copyOf(tail);
        deniedTools = List.copyOf(deniedTools);
    }

    public long tokens() {
        return tokensIn + tokensOut;
    }

    /** This report without tokens an earlier run already counted (a CLI that reports a resumed session whole). */
    public AgentReport withoutEarlier(long earlierIn, long earlierOut) {
        return new AgentReport(finalMessage, sessionId, turns, Math.max(0, tokensIn - earlierIn), Math.max(0, tokensOut - earlierOut),
                costUsd, resultSeen, resultIsError, errorCode, errorDetail, events, abortCode, abortMessage, tail, deniedTools,
                retryAfterMs);
    }
}
