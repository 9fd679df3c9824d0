package orchestrator.core.schedule;

import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.store.FireResult;

/**
 * The answer to an operator's action on a schedule (pause, resume, run).
 *
 * @param status the schedule after the action; null when not found
 * @param fire   what {@code run} did; null for pause and resume
 */
public record ScheduleAction(Kind kind, String message, ScheduleStatus status, FireResult fire) {
    public enum Kind {
        /** done as asked */
        DONE,
        /** nothing to do: pausing a paused schedule, resuming one that is not paused */
        UNCHANGED,
        /** no schedule file has this id */
        NOT_FOUND,
        /** the schedule's file is broken, so it cannot be run */
        BROKEN
    }

    /**
     * The answer body of {@code POST /schedules/{id}/pause|resume|run}, which the CLI prints too: {@code changed}
     * false for a pause of a paused schedule; for run, the fire's {@code outcome} and {@code job_id}.
     */
    public Map<String, Object> apiBody(String scheduleId) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", scheduleId);
        body.put("changed", kind == Kind.DONE);
        body.put("message", message);
        if (fire != null) {
            body.put("outcome", fire.kind().name().toLowerCase(java.util.Locale.ROOT));
            body.put("job_id", fire.jobId());
            body.put("status_url", fire.jobId() == null ? null : "/jobs/" + fire.jobId());
        }
        body.put("schedule", status == null ? null : status.apiBody());
        return body;
    }
}
