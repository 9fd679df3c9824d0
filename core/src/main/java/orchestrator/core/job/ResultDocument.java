package orchestrator.core.job;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pieces of a job's result document (the prototype's {@code result.schema.json}, kind {@code job})
 * that the runner, which writes it when a job ends by its run, and the store, which writes it when a job
 * ends without one (cancelled or rejected before it ran, its lease lost), both need.
 */
public final class ResultDocument {
    /** The prototype's {@code result.schema.json} version that the documents follow. */
    public static final String SCHEMA_VERSION = "1.0";

    private ResultDocument() {
    }

    /** A job's end in the prototype's words: success, cancelled, needs_human, timeout (either timer), failed. */
    public static String status(JobState state, String errorCode) {
        return switch (state) {
            case SUCCEEDED -> "success";
            case CANCELLED -> "cancelled";
            case NEEDS_HUMAN -> "needs_human";
            default -> "timeout".equals(errorCode) || "idle_timeout".equals(errorCode) ? "timeout" : "failed";
        };
    }

    /** The four artifact paths the schema requires, under {@code dir} (relative to the job's artifact folder). */
    public static Map<String, Object> artifacts(String dir) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("report_md", dir + "report.md");
        a.put("patch_diff", dir + "patch.diff");
        a.put("logs_txt", dir + "logs.txt");
        a.put("result_json", dir + "result.json");
        return a;
    }

    /** The schema's {@code error}: null without a code. */
    public static Map<String, Object> error(String code, String message) {
        return code == null ? null : Map.of("code", code, "message", message == null ? "" : message);
    }

    /**
     * The result of a job that reached a final state without a runner's finish: cancelled or rejected
     * (before it ran, or while it waited for a human), or ended when its lease expired. When an earlier
     * run left a result ({@code earlier}: a job paused for a human, a continued job) its steps, artifacts
     * and figures stay and only how it ended changes; otherwise the job ran no step this document could
     * tell of: {@code steps} is empty, and a job that never started reads as started when it ended.
     *
     * @param earlier   the job's stored result, or null
     * @param startedAt when the job first started, or null when it never did
     */
    public static Map<String, Object> ended(String jobId, JobState state, String errorCode, String errorMessage,
                                            Map<String, Object> earlier, int attempt, Instant startedAt, Instant finishedAt) {
        if (!state.isFinal() || errorCode == null) {
            throw new IllegalArgumentException("a job ended without its run is final and has an error code, not " + state.wire());
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("schema_version", SCHEMA_VERSION);
        d.put("kind", "job");
        d.put("job_id", jobId);
        d.put("status", status(state, errorCode));
        d.put("attempts", Math.max(1, Math.min(50, attempt)));
        Object started = earlier == null ? null : earlier.get("started_at");
        d.put("started_at", started instanceof String s ? s : (startedAt == null ? finishedAt : startedAt).toString());
        d.put("finished_at", finishedAt.toString());
        d.put("summary", errorMessage == null ? "" : errorMessage);
        for (String kept : List.of("change_status", "secrets_check")) {
            if (earlier != null && earlier.containsKey(kept)) {
                d.put(kept, earlier.get(kept));
            }
        }
        d.put("artifacts", earlier != null && earlier.get("artifacts") instanceof Map<?, ?> a ? a : artifacts(""));
        Map<String, Object> metrics = new LinkedHashMap<>();
        if (earlier != null && earlier.get("metrics") instanceof Map<?, ?> m) {
            m.forEach((k, v) -> metrics.put(String.valueOf(k), v));
        }
        metrics.put("state", state.wire());
        d.put("metrics", metrics);
        d.put("error", error(errorCode, errorMessage));
        d.put("steps", earlier != null && earlier.get("steps") instanceof List<?> steps ? steps : List.of());
        return d;
    }
}
