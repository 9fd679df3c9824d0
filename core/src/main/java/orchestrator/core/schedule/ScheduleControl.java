package orchestrator.core.schedule;

import java.util.List;

/**
 * What an operator can see and do with the schedules: implemented by the scheduler module, used by the
 * gateway, which must not depend on the scheduler (DESIGN §1); the app wires one to the other.
 * Pause and resume are kept in the store, so they hold for every scheduler process and across restarts.
 */
public interface ScheduleControl {
    /** Every schedule file, valid or broken, sorted by file name. */
    List<ScheduleStatus> statuses();

    /** Pauses the schedule: its fires are recorded as skipped until it is resumed. */
    ScheduleAction pause(String scheduleId, String actor);

    /** Resumes a paused schedule; whether a skipped fire is made up for is its misfire policy. */
    ScheduleAction resume(String scheduleId, String actor);

    /** Fires it once now, whether or not it is enabled, paused or due; {@code overlap} still applies. */
    ScheduleAction run(String scheduleId, String actor);

    /** The body of {@code GET /schedules}: every schedule, and when there is none, {@link #noneNote()} as {@code note}. */
    default java.util.Map<String, Object> listBody() {
        List<java.util.Map<String, Object>> all = statuses().stream().map(ScheduleStatus::apiBody).toList();
        return all.isEmpty() ? java.util.Map.of("schedules", all, "note", noneNote()) : java.util.Map.of("schedules", all);
    }

    /** What a listing says when {@link #statuses()} is empty. */
    default String noneNote() {
        return "no schedules";
    }

    /** What a 404 for {@code scheduleId}, which is none of {@link #statuses()}, says. */
    default String notFound(String scheduleId) {
        return "no schedule '" + scheduleId + "'";
    }
}
