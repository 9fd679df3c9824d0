package orchestrator.core.schedule;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import orchestrator.core.job.JobState;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.ScheduleState;

/**
 * A schedule file as the scheduler sees it now: what {@code orchestrator schedules} and {@code GET /schedules} show.
 *
 * @param id            the schedule id, or null when a broken file has none
 * @param file          the schedule file
 * @param expression    the {@code schedule} field as written (a cron expression or a macro), null if missing
 * @param timezone      the IANA zone the expression is evaluated in, null if missing from a broken file
 * @param misfire       {@code skip}, {@code run_once} or {@code catch_up}; null for a broken file
 * @param overlap       {@code allow} or {@code skip_if_running}; null for a broken file
 * @param project       the project of the jobs it enqueues (null: none, or a broken file)
 * @param nextFireTimes the next three fire times (while paused, the times that would be skipped); empty when
 *                      disabled or broken
 * @param recentFires   the newest recorded fires, newest first, with their jobs
 * @param state         the operator's pause, as the store keeps it
 * @param error         why the file is broken, or null when it is valid
 */
public record ScheduleStatus(String id, Path file, boolean enabled, String expression, String timezone,
                             String misfire, String overlap, String project, List<Instant> nextFireTimes,
                             List<ScheduleFire> recentFires, ScheduleState state, String error) {
    public ScheduleStatus {
        Objects.requireNonNull(file, "file");
        nextFireTimes = nextFireTimes == null ? List.of() : List.copyOf(nextFireTimes);
        recentFires = recentFires == null ? List.of() : List.copyOf(recentFires);
        state = state == null ? ScheduleState.none(id == null ? "" : id) : state;
    }

    public boolean broken() {
        return error != null;
    }

    public boolean paused() {
        return state.paused();
    }

    /** The newest recorded fire (enqueued or skipped), or null. */
    public Instant lastFireTime() {
        return recentFires.isEmpty() ? null : recentFires.get(0).fireTime();
    }

    /** {@code enqueued}, or {@code skipped: <reason>}, or null. */
    public String lastOutcome() {
        return recentFires.isEmpty() ? null : outcome(recentFires.get(0));
    }

    public String lastJobId() {
        return recentFires.isEmpty() ? null : recentFires.get(0).jobId();
    }

    public JobState lastJobState() {
        return recentFires.isEmpty() ? null : recentFires.get(0).jobState();
    }

    private static String outcome(ScheduleFire f) {
        return "skipped".equals(f.outcome()) ? "skipped: " + f.reason() : f.outcome();
    }

    /** The {@code GET /schedules} entry: the same fields the CLI prints with {@code --json}. */
    public Map<String, Object> apiBody() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("file", file.getFileName().toString());
        m.put("enabled", enabled);
        m.put("paused", paused());
        m.put("paused_at", state.paused() && state.pausedAt() != null ? state.pausedAt().toString() : null);
        m.put("paused_by", state.paused() ? state.pausedBy() : null);
        m.put("cron", expression);
        m.put("timezone", timezone);
        m.put("misfire", misfire);
        m.put("overlap", overlap);
        m.put("project", project);
        m.put("next_fire_times", nextFireTimes.stream().map(Instant::toString).toList());
        List<Map<String, Object>> fires = new ArrayList<>();
        for (ScheduleFire f : recentFires) {
            Map<String, Object> fm = new LinkedHashMap<>();
            fm.put("fire_time", f.fireTime().toString());
            fm.put("outcome", f.outcome());
            fm.put("reason", f.reason());
            fm.put("job_id", f.jobId());
            fm.put("job_status", f.jobState() == null ? null : f.jobState().wire());
            fires.add(fm);
        }
        m.put("last_fires", fires);
        m.put("error", error);
        return m;
    }
}
