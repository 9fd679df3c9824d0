package orchestrator.gateway;

import java.nio.file.Path;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.Source;
import orchestrator.core.schedule.ScheduleAction;
import orchestrator.core.schedule.ScheduleControl;
import orchestrator.core.schedule.ScheduleStatus;
import orchestrator.core.store.FireResult;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.NewJob;

/**
 * The gateway tests' schedules: one fixed schedule {@code nightly} of project {@code alpha}, whose pause, fires
 * and jobs live in the real store. The gateway module may not use the scheduler (DESIGN §1), so this stands in
 * for it the way the app wires it; the real scheduler behind these routes is tested in the app module.
 */
final class FixedSchedules implements ScheduleControl {
    static final String ID = "nightly";

    private final JobStore store;
    private final Clock clock;
    private final JobSpec spec;

    FixedSchedules(JobStore store, Clock clock, JobSpec spec) {
        this.store = store;
        this.clock = clock;
        this.spec = spec;
    }

    @Override
    public List<ScheduleStatus> statuses() {
        return List.of(status());
    }

    private ScheduleStatus status() {
        return new ScheduleStatus(ID, Path.of("nightly.json"), true, "0 3 * * *", "UTC", "skip", "allow", spec.project(),
                List.of(clock.instant().truncatedTo(ChronoUnit.DAYS).plus(1, ChronoUnit.DAYS).plus(3, ChronoUnit.HOURS)),
                store.recentFires(ID, 5), store.scheduleStates().get(ID), null);
    }

    @Override
    public ScheduleAction pause(String scheduleId, String actor) {
        if (!ID.equals(scheduleId)) {
            return new ScheduleAction(ScheduleAction.Kind.NOT_FOUND, "unknown schedule '" + scheduleId + "'", null, null);
        }
        boolean changed = store.pauseSchedule(ID, actor);
        return new ScheduleAction(changed ? ScheduleAction.Kind.DONE : ScheduleAction.Kind.UNCHANGED, ID + (changed ? ": paused" : ": already paused"),
                status(), null);
    }

    @Override
    public ScheduleAction resume(String scheduleId, String actor) {
        if (!ID.equals(scheduleId)) {
            return new ScheduleAction(ScheduleAction.Kind.NOT_FOUND, "unknown schedule '" + scheduleId + "'", null, null);
        }
        boolean changed = store.resumeSchedule(ID, actor);
        return new ScheduleAction(changed ? ScheduleAction.Kind.DONE : ScheduleAction.Kind.UNCHANGED, ID + (changed ? ": resumed" : ": not paused"),
                status(), null);
    }

    @Override
    public ScheduleAction run(String scheduleId, String actor) {
        if (!ID.equals(scheduleId)) {
            return new ScheduleAction(ScheduleAction.Kind.NOT_FOUND, "unknown schedule '" + scheduleId + "'", null, null);
        }
        java.time.Instant t = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        FireResult r = store.fire(ID, t, new NewJob(spec, new Source("cron", Map.of("schedule_id", ID, "fire_time", t.toString())), actor),
                false, null);
        return new ScheduleAction(ScheduleAction.Kind.DONE, ID + ": " + r.kind(), status(), r);
    }
}
