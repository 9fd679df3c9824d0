package orchestrator.scheduler;

import java.util.Locale;

/** Whether a fire may enqueue a job while an earlier job of the same schedule is not finished. */
enum OverlapPolicy {
    ALLOW,
    /** the fire is recorded as skipped (by the store, in the fire's transaction) */
    SKIP_IF_RUNNING;

    static final OverlapPolicy DEFAULT = ALLOW;

    String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
