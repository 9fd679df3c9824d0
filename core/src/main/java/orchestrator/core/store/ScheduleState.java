package orchestrator.core.store;

import java.time.Instant;
import java.util.Objects;

/**
 * What an operator set on a schedule, as the store keeps it for every process: whether it is paused, and
 * who paused or resumed it when. A schedule never paused has no state ({@link #NONE}).
 *
 * @param resumedAt the latest resume, or null: the fire time of the one fire a {@code run_once} or
 *                  {@code catch_up} schedule makes after a pause that skipped fires
 */
public record ScheduleState(String scheduleId, boolean paused, Instant pausedAt, String pausedBy, Instant resumedAt,
                            String resumedBy) {
    public ScheduleState {
        Objects.requireNonNull(scheduleId, "scheduleId");
    }

    /** The state of a schedule that was never paused. */
    public static ScheduleState none(String scheduleId) {
        return new ScheduleState(scheduleId, false, null, null, null, null);
    }
}
