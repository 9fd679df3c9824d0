package orchestrator.scheduler;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import orchestrator.core.job.JobState;

/**
 * One line of {@code orchestrator schedules}: a schedule file as the scheduler sees it now.
 *
 * @param id            the schedule id, or null when a broken file has none
 * @param file          the schedule file
 * @param expression    the {@code schedule} field as written (a cron expression or a macro), null if missing
 * @param timezone      the IANA zone the expression is evaluated in, null if missing from a broken file
 * @param misfire       {@code skip}, {@code run_once} or {@code catch_up}; null for a broken file
 * @param overlap       {@code allow} or {@code skip_if_running}; null for a broken file
 * @param nextFireTimes the next three fire times; empty when disabled or broken
 * @param lastFireTime  the newest recorded fire (enqueued or skipped), or null
 * @param lastOutcome   {@code enqueued}, or {@code skipped: <reason>}, or null
 * @param lastJobId     the job of the newest fire, null when it was skipped
 * @param lastJobState  that job's current state, or null
 * @param error         why the file is broken, or null when it is valid
 */
public record ScheduleStatus(String id, Path file, boolean enabled, String expression, String timezone,
                             String misfire, String overlap, List<Instant> nextFireTimes, Instant lastFireTime,
                             String lastOutcome, String lastJobId, JobState lastJobState, String error) {
    public ScheduleStatus {
        Objects.requireNonNull(file, "file");
        nextFireTimes = nextFireTimes == null ? List.of() : List.copyOf(nextFireTimes);
    }

    public boolean broken() {
        return error != null;
    }
}
