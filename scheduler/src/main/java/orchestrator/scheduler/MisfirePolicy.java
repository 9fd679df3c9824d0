package orchestrator.scheduler;

import java.util.Locale;

/** What to do with fire times that were missed (the scheduler was down or stalled) by more than the tolerance. */
enum MisfirePolicy {
    /** fire none of them; the newest is recorded as skipped so that the schedule moves on */
    SKIP,
    /** fire only the newest */
    RUN_ONCE,
    /** fire each in order, at most {@code max_catch_up} of the newest */
    CATCH_UP;

    static final MisfirePolicy DEFAULT = RUN_ONCE;

    String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
