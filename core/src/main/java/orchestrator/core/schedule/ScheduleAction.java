package orchestrator.core.schedule;

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
}
