package orchestrator.core.store;

import java.util.List;
import java.util.Map;
import orchestrator.core.job.JobState;

/**
 * Aggregates over the whole store for monitoring ({@code GET /metrics}), read in one call.
 *
 * @param jobs            jobs per state and project (project {@code ""} for jobs without one)
 * @param steps           steps per project, agent and status, with their summed cost and tokens
 * @param durations       run time of finished jobs, {@code started_at} to {@code finished_at}
 * @param leasesLost      leases that expired without a heartbeat, over the store's lifetime
 */
public record StoreStats(List<JobCount> jobs, List<StepCount> steps, DurationHistogram durations, long leasesLost) {
    /** Upper bounds of {@link DurationHistogram#cumulative()}, in seconds; the last bucket (+Inf) is {@code count}. */
    public static final List<Long> DURATION_BUCKETS_SEC = List.of(1L, 5L, 15L, 60L, 300L, 900L, 3600L);

    public StoreStats {
        jobs = List.copyOf(jobs);
        steps = List.copyOf(steps);
    }

    public record JobCount(JobState state, String project, long count) {
    }

    public record StepCount(String project, String agent, String status, long count, double costUsd, long tokensIn,
                            long tokensOut) {
    }

    /**
     * @param cumulative jobs that ran at most {@code DURATION_BUCKETS_SEC.get(i)} seconds, per bucket
     * @param count      every finished job that has both times
     * @param sumSeconds their total run time
     */
    public record DurationHistogram(List<Long> cumulative, long count, double sumSeconds) {
        public DurationHistogram {
            cumulative = List.copyOf(cumulative);
        }
    }

    /** Jobs per state over every project, every state present. */
    public Map<JobState, Long> byState() {
        Map<JobState, Long> out = new java.util.EnumMap<>(JobState.class);
        for (JobState s : JobState.values()) {
            out.put(s, 0L);
        }
        for (JobCount c : jobs) {
            out.merge(c.state(), c.count(), Long::sum);
        }
        return out;
    }
}
