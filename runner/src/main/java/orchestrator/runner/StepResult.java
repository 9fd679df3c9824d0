package orchestrator.runner;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** How one step ended, as written to its {@code result.json} and recorded in the store. */
record StepResult(String stepId, int index, String agent, String role, String status, Integer exitCode,
                  String errorCode, String errorMessage, int attempts, String finalMessage, Instant startedAt,
                  Instant finishedAt, long durationMs, JobUsage usage, String sessionId) {
    StepResult {
        Objects.requireNonNull(stepId, "stepId");
        Objects.requireNonNull(status, "status");
        usage = usage == null ? JobUsage.NONE : usage;
    }

    boolean succeeded() {
        return status.equals("succeeded");
    }

    /** The step's own {@code result.json}. */
    Map<String, Object> document(String jobId) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", jobId);
        m.put("step_id", stepId);
        m.put("agent", agent);
        m.put("role", role);
        m.put("status", status);
        m.put("exit_code", exitCode);
        m.put("error_code", errorCode);
        m.put("error", errorCode == null ? null : Map.of("code", errorCode, "message", errorMessage == null ? "" : errorMessage));
        m.put("attempts", attempts);
        m.put("final_message", finalMessage);
        m.put("session_id", sessionId);
        m.put("turns", usage.turns());
        m.put("cost_usd", usage.costUsd());
        m.put("tokens_in", usage.tokensIn());
        m.put("tokens_out", usage.tokensOut());
        m.put("started_at", startedAt == null ? null : startedAt.toString());
        m.put("finished_at", finishedAt == null ? null : finishedAt.toString());
        m.put("duration_ms", durationMs);
        return m;
    }

    /** The step's entry in the job's {@code result.json}. */
    Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step_id", stepId);
        m.put("agent", agent);
        m.put("status", status);
        m.put("exit_code", exitCode);
        m.put("error_code", errorCode);
        m.put("duration_ms", durationMs);
        m.put("attempts", attempts);
        m.put("cost_usd", usage.costUsd());
        return m;
    }
}
