package orchestrator.runner.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import orchestrator.core.Json;

/**
 * A streaming parser of one step's output, fed raw line by line from the log pump's thread while
 * the supervising thread reads {@link #report()}: every method that touches state is synchronized.
 * A line that starts with '{' and parses as a JSON object is an event; anything else (stderr is
 * merged into stdout) is text, kept in a short tail and checked for a recognisable error.
 */
public abstract class OutputParser {
    static final int TAIL_LINES = 20;
    static final int MAX_DETAIL_CHARS = 500;

    protected String finalMessage;
    protected String sessionId;
    protected int turns;
    protected long tokensIn;
    protected long tokensOut;
    protected double costUsd;
    protected boolean resultSeen;
    protected boolean resultIsError;
    protected String errorCode;
    protected String errorDetail;
    protected String abortCode;
    protected String abortMessage;
    /** Tool calls the CLI refused, as {@code name: reason}; see {@link AgentReport#deniedTools()}. */
    protected final List<String> deniedTools = new ArrayList<>();
    /** The provider's retry-after in ms, when the CLI printed it. */
    protected Long retryAfterMs;
    private int events;
    private volatile boolean resultSeenFlag;
    private final Deque<String> tail = new ArrayDeque<>();

    public final synchronized void accept(String raw) {
        String line = raw.strip();
        if (line.isEmpty()) {
            return;
        }
        if (line.startsWith("{")) {
            JsonNode n = null;
            try {
                n = Json.mapper().readTree(line);
            } catch (Exception notJson) {
                // a line that looks like JSON but is not (cut at the line cap, or plain text): text then
            }
            if (n != null && n.isObject()) {
                events++;
                event(n);
                resultSeenFlag = resultSeen;
                return;
            }
        }
        // as the log has it: what a text line says reaches the job's error message, not its colour codes
        String text = orchestrator.runner.process.TerminalText.plain(line).strip();
        if (!text.isEmpty()) {
            remember(text);
            text(text);
        }
        resultSeenFlag = resultSeen;
    }

    /** One JSON event of the CLI's structured output. */
    protected abstract void event(JsonNode e);

    /** One plain-text line; by default checked for a recognisable error. */
    protected void text(String line) {
        String code = ErrorText.classify(line);
        if (code != null) {
            error(code, line);
        }
    }

    private void remember(String line) {
        tail.addLast(cut(line));
        if (tail.size() > TAIL_LINES) {
            tail.removeFirst();
        }
    }

    /**
     * Records a recognised error. An auth failure is definitive and stays; otherwise the latest wins
     * (a CLI that first could not connect and then hit a 429 is rate limited).
     */
    protected final void error(String code, String detail) {
        if (code == null || "auth_failed".equals(errorCode) && !code.equals("auth_failed")) {
            return;
        }
        errorCode = code;
        errorDetail = cut(detail);
    }

    /** Asks for the step to be killed now: the output shows it can only hang from here. */
    protected final void abort(String code, String message) {
        if (abortCode == null) {
            abortCode = code;
            abortMessage = cut(message);
        }
    }

    static String cut(String s) {
        if (s == null) {
            return null;
        }
        return s.length() <= MAX_DETAIL_CHARS ? s : s.substring(0, MAX_DETAIL_CHARS) + "…";
    }

    /** True once the final result was printed; lock-free, for the supervisor's 20 ms poll. */
    public final boolean finalResultSeen() {
        return resultSeenFlag;
    }

    public final synchronized AgentReport report() {
        return new AgentReport(finalMessage, sessionId, turns, tokensIn, tokensOut, costUsd, resultSeen, resultIsError,
                errorCode, errorDetail, events, abortCode, abortMessage, new ArrayList<>(tail), deniedTools, retryAfterMs);
    }

    static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.isTextual() ? v.asText() : v.toString();
    }
}
