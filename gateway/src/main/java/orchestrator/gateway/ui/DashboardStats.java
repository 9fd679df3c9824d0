package orchestrator.gateway.ui;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import orchestrator.core.job.JobState;
import orchestrator.core.store.FinishedMinute;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.ProjectStateCount;
import orchestrator.gateway.auth.ApiToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overview's numbers, read from the store at most once per {@link #MAX_AGE} for every client together:
 * counts per (project, state) and the jobs finished since the start of the UTC day (or the last hour, if
 * longer), per project and minute. Each token's view is then a sum over the projects it sees, so a scoped
 * token's counts never include another project and no client's poll costs a read of the store. Both reads
 * are index-only (V8's indexes): about 70 ms on 100,000 jobs, once a second while someone looks.
 */
final class DashboardStats {
    static final Duration MAX_AGE = Duration.ofSeconds(1);
    /**
     * Older than this, a snapshot is not shown while it is refreshed: the request reads the store itself. Polling
     * pages (every 2 s) keep it younger, so they never wait; a page opened after a quiet spell shows fresh numbers.
     */
    static final Duration TOO_OLD = Duration.ofSeconds(3);
    static final int CHART_MINUTES = 60;
    private static final Logger log = LoggerFactory.getLogger(DashboardStats.class);

    private record Snapshot(Instant at, List<ProjectStateCount> counts, List<FinishedMinute> finished) {
    }

    /** What one token sees: counts per state, and per minute of the last hour the jobs that succeeded and failed. */
    record View(Map<JobState, Long> counts, long[] minutes, long[] succeeded, long[] failed, Map<String, Today> today) {
        long total() {
            return counts.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /** One project's finished jobs today (UTC), with their cost and tokens. */
    record Today(long jobs, long failed, double costUsd, long tokensIn, long tokensOut) {
        Today plus(FinishedMinute m) {
            return new Today(jobs + m.count(), failed + (m.state() == JobState.FAILED ? m.count() : 0), costUsd + m.costUsd(),
                    tokensIn + m.tokensIn(), tokensOut + m.tokensOut());
        }
    }

    private final JobStore store;
    private final Clock clock;
    private final java.util.concurrent.atomic.AtomicBoolean refreshing = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.ExecutorService refresher = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "dashboard-counts");
        t.setDaemon(true);
        return t;
    });
    private volatile Snapshot snapshot;

    DashboardStats(JobStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    View view(ApiToken token) {
        Snapshot s = current();
        Map<JobState, Long> counts = new EnumMap<>(JobState.class);
        for (JobState st : JobState.values()) {
            counts.put(st, 0L);
        }
        for (ProjectStateCount c : s.counts()) {
            if (token.sees(c.project())) {
                counts.merge(c.state(), c.count(), Long::sum);
            }
        }
        Instant firstMinute = s.at().truncatedTo(ChronoUnit.MINUTES).minus(CHART_MINUTES - 1, ChronoUnit.MINUTES);
        long[] minutes = new long[CHART_MINUTES];
        for (int i = 0; i < CHART_MINUTES; i++) {
            minutes[i] = firstMinute.plus(i, ChronoUnit.MINUTES).getEpochSecond();
        }
        long[] ok = new long[CHART_MINUTES];
        long[] failed = new long[CHART_MINUTES];
        Instant day = s.at().atOffset(ZoneOffset.UTC).truncatedTo(ChronoUnit.DAYS).toInstant();
        Map<String, Today> today = new TreeMap<>();
        for (FinishedMinute m : s.finished()) {
            if (!token.sees(m.project())) {
                continue;
            }
            int i = (int) ChronoUnit.MINUTES.between(firstMinute, m.minute());
            if (i >= 0 && i < CHART_MINUTES) {
                if (m.state() == JobState.SUCCEEDED) {
                    ok[i] += m.count();
                } else if (m.state() == JobState.FAILED) {
                    failed[i] += m.count();
                }
            }
            if (!m.minute().isBefore(day)) {
                today.merge(m.project() == null ? "(no project)" : m.project(), new Today(0, 0, 0, 0, 0).plus(m),
                        (a, b) -> new Today(a.jobs() + b.jobs(), a.failed() + b.failed(), a.costUsd() + b.costUsd(),
                                a.tokensIn() + b.tokensIn(), a.tokensOut() + b.tokensOut()));
            }
        }
        return new View(counts, minutes, ok, failed, today);
    }

    /**
     * The snapshot to answer from. One past {@link #MAX_AGE} is answered as it is while one background refresh
     * reads the store, so polling pages never wait for the counts; one past {@link #TOO_OLD} (or none yet) is read
     * afresh by the request.
     */
    private Snapshot current() {
        Snapshot s = snapshot;
        Instant now = clock.instant();
        if (s == null || now.isAfter(s.at().plus(TOO_OLD))) {
            synchronized (this) {
                // one reader at a time; those that queued behind it take what it read
                Snapshot again = snapshot;
                if (again == null || now.isAfter(again.at().plus(TOO_OLD))) {
                    snapshot = read();
                }
                return snapshot;
            }
        }
        if (now.isAfter(s.at().plus(MAX_AGE)) && refreshing.compareAndSet(false, true)) {
            try {
                refresher.execute(this::refresh);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                refreshing.set(false); // closing
            }
        }
        return s;
    }

    private void refresh() {
        try {
            snapshot = read();
        } catch (Throwable t) {
            // the store is down or busy: the pages keep the last numbers and the next poll tries again
            log.warn("dashboard counts not refreshed: {}", t.toString());
        } finally {
            refreshing.set(false);
        }
    }

    private Snapshot read() {
        Instant now = clock.instant();
        Instant day = now.atOffset(ZoneOffset.UTC).truncatedTo(ChronoUnit.DAYS).toInstant();
        Instant hour = now.truncatedTo(ChronoUnit.MINUTES).minus(CHART_MINUTES - 1, ChronoUnit.MINUTES);
        Instant since = day.isBefore(hour) ? day : hour;
        return new Snapshot(now, store.countByProjectAndState(), store.finishedSince(since));
    }

    /** Stops the refresh thread (the gateway is stopping). */
    void close() {
        refresher.shutdownNow();
    }
}
