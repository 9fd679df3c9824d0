package orchestrator.runner;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import orchestrator.core.job.ResultDocument;

/**
 * How one step ended, as written to its {@code result.json} and recorded in the store.
 *
 * @param status  our word: succeeded, failed, cancelled, pending
 * @param changed whether the step changed the workspace (its patch is not empty), null when unknown
 */
record StepResult(String stepId, int index, String agent, String role, String status, Integer exitCode,
                  String errorCode, String errorMessage, int attempts, String finalMessage, Instant startedAt,
                  Instant finishedAt, long durationMs, JobUsage usage, String sessionId, Boolean changed) {
    /** The prototype's {@code result.schema.json} version that the documents follow. */
    static final String SCHEMA_VERSION = ResultDocument.SCHEMA_VERSION;

    StepResult {
        Objects.requireNonNull(stepId, "stepId");
        Objects.requireNonNull(status, "status");
        usage = usage == null ? JobUsage.NONE : usage;
    }

    boolean succeeded() {
        return status.equals("succeeded");
    }

    StepResult withChanged(boolean c) {
        return new StepResult(stepId, index, agent, role, status, exitCode, errorCode, errorMessage, attempts, finalMessage,
                startedAt, finishedAt, durationMs, usage, sessionId, c);
    }

    /**
     * The prototype's status word ({@code result.schema.json}): success, failed, timeout, cancelled,
     * retryable; a step ended by either of the runner's timers reads {@code timeout}.
     */
    String schemaStatus() {
        return switch (status) {
            case "succeeded" -> "success";
            case "cancelled" -> "cancelled";
            case "pending" -> "retryable";
            default -> "timeout".equals(errorCode) || "idle_timeout".equals(errorCode) ? "timeout" : "failed";
        };
    }

    /**
     * The step's own {@code result.json}, valid against the prototype's {@code result.schema.json}
     * (kind {@code step}): its closed set of top-level fields, so what we add beyond it (tokens, turns,
     * session, exit code, our status word) lives in {@code metrics}, which the schema leaves open.
     * Artifact paths are relative to the job's artifact folder, the same on every host.
     */
    Map<String, Object> document(String jobId) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("schema_version", SCHEMA_VERSION);
        m.put("kind", "step");
        m.put("job_id", jobId);
        m.put("step_id", stepId);
        m.put("agent", agent);
        m.put("role", role == null ? "agent" : role);
        m.put("status", schemaStatus());
        m.put("attempts", Math.max(1, Math.min(50, attempts)));
        m.put("started_at", (startedAt == null ? finishedAt : startedAt).toString());
        m.put("finished_at", finishedAt.toString());
        m.put("summary", summaryText());
        m.put("change_status", changed == null ? null : changed ? "changed" : "no_changes");
        String dir = "steps/" + stepId + "/";
        m.put("artifacts", ResultDocument.artifacts(dir));
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("duration_ms", Math.max(0, durationMs));
        metrics.put("cost_usd", usage.costUsd());
        metrics.put("tokens_in", usage.tokensIn());
        metrics.put("tokens_out", usage.tokensOut());
        metrics.put("turns", usage.turns());
        metrics.put("session_id", sessionId);
        metrics.put("exit_code", exitCode);
        metrics.put("state", status);
        m.put("metrics", metrics);
        m.put("error", errorCode == null ? null : Map.of("code", errorCode, "message", errorMessage == null ? "" : errorMessage));
        return m;
    }

    /** The agent's final message, else what went wrong, else nothing. */
    String summaryText() {
        if (finalMessage != null && !finalMessage.isBlank()) {
            return finalMessage;
        }
        return errorMessage == null ? "" : errorMessage;
    }

    /**
     * Reads back a step of an earlier run of this job from the job's stored result (written by a
     * runner, never by an agent): a resumed or continued job's result lists every step, and its
     * spending counts against the budget.
     */
    static StepResult fromDocument(Map<?, ?> d, int index) {
        Map<?, ?> metrics = d.get("metrics") instanceof Map<?, ?> mm ? mm : Map.of();
        Map<?, ?> error = d.get("error") instanceof Map<?, ?> e ? e : null;
        Object change = d.get("change_status");
        JobUsage usage = new JobUsage(number(metrics.get("cost_usd")).doubleValue(), number(metrics.get("tokens_in")).longValue(),
                number(metrics.get("tokens_out")).longValue(), number(metrics.get("turns")).intValue());
        String state = metrics.get("state") instanceof String s ? s : "success".equals(d.get("status")) ? "succeeded" : "failed";
        return new StepResult(String.valueOf(d.get("step_id")), index, String.valueOf(d.get("agent")),
                d.get("role") instanceof String r ? r : null, state,
                metrics.get("exit_code") instanceof Number n ? n.intValue() : null,
                error == null ? null : (String) error.get("code"), error == null ? null : (String) error.get("message"),
                number(d.get("attempts")).intValue(), d.get("summary") instanceof String s && error == null ? s : null,
                instant(d.get("started_at")), instant(d.get("finished_at")), number(metrics.get("duration_ms")).longValue(),
                usage, metrics.get("session_id") instanceof String s ? s : null,
                change == null ? null : "changed".equals(change));
    }

    private static Number number(Object o) {
        return o instanceof Number n ? n : 0;
    }

    private static Instant instant(Object o) {
        return o instanceof String s ? Instant.parse(s) : null;
    }
}
