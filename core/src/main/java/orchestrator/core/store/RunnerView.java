package orchestrator.core.store;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A registered runner as the store last heard of it. Whether it is alive is judged by the reader from
 * {@link #lastHeartbeat} and {@code RUNNER_STALE_SEC}: a runner killed with SIGKILL cannot say it died.
 *
 * @param stoppedAt   when it stopped after a clean drain, or null while it runs (or died without saying so)
 * @param clockSkewMs how far its host's clock was ahead of the PostgreSQL server's (negative: behind) at its last
 *                    heartbeat; null on SQLite, where every process shares one clock, and for a runner of an older build
 */
public record RunnerView(String runnerId, String host, long pid, String version, int slots, List<String> runningJobs,
                         boolean draining, Instant startedAt, Instant lastHeartbeat, Instant stoppedAt, Long clockSkewMs) {

    /** How a runner looks to a reader. */
    public enum Status {
        /** Heartbeat younger than the stale threshold. */
        LIVE,
        /** No heartbeat for longer than the threshold, and no clean stop: killed, hung or cut off from the store. */
        STALE,
        /** Drained and closed cleanly. */
        STOPPED;

        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public RunnerView {
        Objects.requireNonNull(runnerId, "runnerId");
        Objects.requireNonNull(lastHeartbeat, "lastHeartbeat");
        runningJobs = List.copyOf(runningJobs);
    }

    /** A runner whose clock the store does not compare (SQLite). */
    public RunnerView(String runnerId, String host, long pid, String version, int slots, List<String> runningJobs,
                      boolean draining, Instant startedAt, Instant lastHeartbeat, Instant stoppedAt) {
        this(runnerId, host, pid, version, slots, runningJobs, draining, startedAt, lastHeartbeat, stoppedAt, null);
    }

    public Status status(Instant now, Duration staleAfter) {
        if (stoppedAt != null) {
            return Status.STOPPED;
        }
        return heartbeatAge(now).compareTo(staleAfter) > 0 ? Status.STALE : Status.LIVE;
    }

    /** A live runner that still leases: what the queue needs for its jobs to start. */
    public boolean takesJobs(Instant now, Duration staleAfter) {
        return status(now, staleAfter) == Status.LIVE && !draining;
    }

    /** Time since the last heartbeat; zero when the reader's clock is behind the runner's. */
    public Duration heartbeatAge(Instant now) {
        Duration d = Duration.between(lastHeartbeat, now);
        return d.isNegative() ? Duration.ZERO : d;
    }

    /**
     * The body of one runner in {@code GET /runners} and {@code orchestrator runners --json}.
     *
     * @param withJobIds false for a token scoped to some projects: the ids of other projects' jobs are not its business
     */
    public Map<String, Object> apiBody(Instant now, Duration staleAfter, boolean withJobIds) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("runner_id", runnerId);
        m.put("host", host);
        m.put("pid", pid);
        m.put("version", version);
        m.put("status", status(now, staleAfter).wire());
        m.put("draining", draining);
        m.put("slots", slots);
        m.put("running", runningJobs.size());
        if (withJobIds) {
            m.put("running_jobs", runningJobs);
        }
        m.put("started_at", startedAt == null ? null : startedAt.toString());
        m.put("last_heartbeat", lastHeartbeat.toString());
        m.put("heartbeat_age_seconds", heartbeatAge(now).toSeconds());
        m.put("stopped_at", stoppedAt == null ? null : stoppedAt.toString());
        m.put("clock_skew_ms", clockSkewMs);
        return m;
    }

    /** {@code +3 ms}, {@code -2500 ms}, {@code +12.3 s}: a clock offset with its sign, as listings show it. */
    public static String signedMillis(long ms) {
        return (ms < 0 ? "-" : "+") + amount(ms);
    }

    /** {@code 800 ms}, {@code 12.3 s}: the size of an offset, without its sign. */
    static String amount(long ms) {
        long abs = Math.abs(ms);
        return abs < 10_000 ? abs + " ms" : String.format(Locale.ROOT, "%.1f s", abs / 1000.0);
    }

    /** Runners per status, every status present. */
    public static Map<Status, Integer> countByStatus(List<RunnerView> runners, Instant now, Duration staleAfter) {
        Map<Status, Integer> out = new EnumMap<>(Status.class);
        for (Status s : Status.values()) {
            out.put(s, 0);
        }
        for (RunnerView r : runners) {
            out.merge(r.status(now, staleAfter), 1, Integer::sum);
        }
        return out;
    }
}
