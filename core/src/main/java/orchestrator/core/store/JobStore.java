package orchestrator.core.store;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import orchestrator.core.job.JobState;

/**
 * The durable job queue and its audit trail. Every method is safe to call from many threads and
 * many processes at once; every state change is one conditional write and appends a
 * {@code job_events} row in the same transaction.
 */
public interface JobStore extends AutoCloseable {

    /**
     * Commits a job and returns only once it is durable. A repeated {@code (project, idempotency_key)}
     * returns the first job with {@code created == false}. Jobs whose policy requires approval start in
     * {@code awaiting_approval}, others in {@code queued}.
     *
     * @throws StoreUnavailableException when the job could not be committed
     */
    Enqueued enqueue(NewJob job);

    /**
     * Claims up to {@code max} due jobs for {@code owner}: highest priority first, then oldest; a job whose
     * {@code concurrency_key} is already running is skipped. Each gets a fresh lease token.
     */
    List<Lease> lease(String owner, int max);

    /** Extends these leases by the lease TTL and reports, per job, whether it is still ours and whether a cancel was asked. */
    List<HeartbeatResult> heartbeat(Collection<Lease> leases);

    /** Records a step's progress. @throws LeaseLostException if the lease is no longer valid */
    void recordStep(Lease lease, StepRecord step);

    /**
     * Records a step's progress without waiting for the commit (a step that started, a step that ended).
     * Writes of one process commit in the order they were made, so a later {@link #recordStep} or
     * {@link #finish} lands after it, and a finish that returned means this is on disk too. With a lost
     * lease it is dropped like any stale write, and the next write that waits fails.
     */
    void recordStepLater(Lease lease, StepRecord step);

    /** Ends the lease with an outcome. @throws LeaseLostException if the lease is no longer valid */
    void finish(Lease lease, Outcome outcome);

    /** Gives the job back to the queue unchanged (a draining runner). @return false if the lease was already lost */
    boolean release(Lease lease, String reason);

    /**
     * Requeues running jobs whose lease expired, with {@code attempt + 1}; a job that has used its
     * attempts fails with {@code lease_lost}, a job with a pending cancel is cancelled.
     *
     * @param actor who noticed (a runner or gateway id), for the audit log
     * @return the number of jobs changed
     */
    int requeueExpired(String actor);

    Optional<JobView> find(String jobId);

    /** Newest first: the first page of {@link #page}. */
    List<JobView> list(JobQuery query);

    /**
     * One page of jobs, newest first (by id, which begins with the creation time). The next page is the same
     * query with {@code beforeId} set to {@link JobPage#nextBeforeId()}; paging on to the end lists every job that
     * matched exactly once, also while new jobs arrive (they sort before the first page).
     */
    JobPage page(JobQuery query);

    List<JobEvent> events(String jobId);

    /** Number of jobs per state, every state present. */
    Map<JobState, Long> countByState();

    /**
     * Jobs per (project, state), project null for jobs without one; states without jobs are left out. A pass
     * over the jobs: callers that ask often cache it (the dashboard does, for every client at once).
     */
    List<ProjectStateCount> countByProjectAndState();

    /** Jobs that reached a final state at or after {@code since}, per project, minute and state. */
    List<FinishedMinute> finishedSince(java.time.Instant since);

    ActionResult cancel(String jobId, String actor);

    ActionResult approve(String jobId, String actor);

    ActionResult reject(String jobId, String actor);

    ActionResult retry(String jobId, String actor);

    /**
     * Continues a finished or {@code needs_human} job: adds a step after the last one that ran (for
     * needs_human, the step that asked for a human), with that step's agent and {@code prompt}, which
     * resumes that step's agent session in the same workspace; the job is queued to run from the added
     * step on. CONFLICT for a job that is queued, running or awaiting approval.
     */
    ActionResult continueJob(String jobId, String prompt, String actor);

    /**
     * Records the fire {@code (scheduleId, fireTime)} and enqueues {@code job} in the same transaction, so
     * that any number of scheduler processes and restarts fire it at most once.
     *
     * @param job           the job to enqueue, or null to record the fire as skipped with {@code skipReason}
     * @param skipIfRunning record the fire as skipped ({@code overlap}) when a job of this schedule is not final
     */
    FireResult fire(String scheduleId, java.time.Instant fireTime, NewJob job, boolean skipIfRunning, String skipReason);

    /** The newest fires of a schedule, newest first, with their jobs' current states. */
    List<ScheduleFire> recentFires(String scheduleId, int limit);

    /**
     * Pauses a schedule for every scheduler process, until {@link #resumeSchedule}; it survives restarts.
     * A paused schedule's fire times are recorded as skipped instead of enqueuing. The store does not
     * know which schedules exist (they are files): the caller checks the id.
     *
     * @param actor who paused it (a token name, {@code cli:<user>}), kept for the listing
     * @return true when it was paused by this call, false when it already was
     */
    boolean pauseSchedule(String scheduleId, String actor);

    /**
     * Ends a pause. Fires after this go ahead; which fires skipped during the pause are made up for is
     * the scheduler's misfire policy, keyed on the resume time recorded here.
     *
     * @return true when it was resumed by this call, false when it was not paused
     */
    boolean resumeSchedule(String scheduleId, String actor);

    /** Every schedule that was ever paused, by id: one read, so a scheduler's tick costs one query. */
    java.util.Map<String, ScheduleState> scheduleStates();

    /**
     * Counts one agent call against the project's budget for {@code day} (UTC), atomically: two runners
     * can never both take the last allowed call.
     *
     * @param project        the job's project, or null
     * @param maxApiCalls    {@code MAX_DAILY_API_CALLS}, 0 for unlimited
     * @param maxCostUsd     {@code MAX_DAILY_COST_USD}, 0 for unlimited: refused once the day's cost reached it
     * @return false, and nothing counted, when the day's budget is spent
     */
    boolean tryStartApiCall(String project, java.time.LocalDate day, long maxApiCalls, double maxCostUsd);

    /** Adds what an agent call cost to the project's day. */
    void addDailyCost(String project, java.time.LocalDate day, double costUsd);

    DailyUsage dailyUsage(String project, java.time.LocalDate day);

    /**
     * Writes a consistent copy of the whole database to {@code target} (which must not exist) while the
     * store stays in use: the backup of a live system.
     */
    void backup(java.nio.file.Path target);

    /**
     * A number that changes when another process may have made a job leasable: an idle runner waits for it
     * to move ({@link #awaitChange}) and tries a lease only then, instead of a write transaction per poll.
     * SQLite: {@code data_version}, which every commit by anyone moves (a shared-memory read, no lock).
     * PostgreSQL: a count of the {@code NOTIFY}s that commits making a job leasable send (enqueue, requeue,
     * release, approve, retry, continue, schedule fire, the end of a job with a concurrency key, the cancel
     * of a job no runner holds, which queues its callback), moved a moment after the commit, and once more
     * whenever the listener reconnects; and, in the process that wrote it, after a commit that queued a
     * callback (the callback loop waits on it too).
     */
    long changeCounter();

    /** How often {@link #awaitChange}'s default reads {@link #changeCounter()}. */
    long CHANGE_POLL_MS = 2;

    /**
     * Waits until {@link #changeCounter()} differs from {@code seen} or {@code maxWaitMs} passed: what an idle
     * runner's lease loop waits in. The default reads the counter every {@value #CHANGE_POLL_MS} ms (SQLite's
     * {@code data_version} is a shared-memory read); a store that is told of changes (PostgreSQL's
     * {@code LISTEN}) blocks instead and makes no query while nothing changes. An interrupt ends the wait
     * early with the interrupt flag kept.
     *
     * @return true when the counter moved
     */
    default boolean awaitChange(long seen, long maxWaitMs) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(maxWaitMs);
        while (changeCounter() == seen) {
            long left = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return false;
            }
            try {
                Thread.sleep(Math.min(CHANGE_POLL_MS, left)); // a poll interval, not a wait for a condition
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /**
     * When the next job can become due with nothing else committing: the earliest {@code run_at} later than
     * {@code now} among queued jobs that were delayed (a {@code run_at} later than their creation). An idle
     * runner sleeps until then, or until {@link #changeCounter()} moves, instead of trying leases on a
     * timer. A job enqueued to run at once is never among them (its commit moves the counter), so this is
     * read through a partial index that intake does not write. Empty when no queued job waits for a time.
     */
    Optional<Instant> nextRunAt(Instant now);

    /**
     * The earliest lease expiry among running jobs: when {@link #requeueExpired} can next find something,
     * unless a lease with a shorter TTL is taken meanwhile. Empty when nothing runs.
     */
    Optional<Instant> nextLeaseExpiry();

    /**
     * When {@link #claimCallbacks} can next claim a pending callback: its next attempt, or the end of the
     * claim another runner holds on it. Empty when none is pending.
     */
    Optional<Instant> nextCallbackAt();

    /** Appends an audit row that records an action without a transition (e.g. a read of logs). */
    void audit(String jobId, String actor, String reason);

    /** True when the store answers a read and accepts a write within {@code timeout}. */
    boolean ready(Duration timeout);

    @Override
    void close();

    /**
     * Aggregates for monitoring: jobs per state and project, steps per agent and status with cost and tokens,
     * a histogram of finished jobs' run times and the number of leases lost. Scans the tables; callers cache it.
     */
    StoreStats stats();

    /**
     * Claims up to {@code max} pending callbacks due at {@code now} for {@code claimFor}: a conditional
     * update, so two runners never send the same attempt at once, and a claim whose runner died is
     * due again when it ends. Each claim counts as one attempt ({@link Callback#attempts()}).
     */
    List<Callback> claimCallbacks(java.time.Instant now, Duration claimFor, int max);

    /**
     * Records the result of attempt {@code attempt}: {@code status} {@code delivered}, {@code failed}
     * (gave up), {@code refused} (will never be sent: {@code error} says why) or {@code pending} with the
     * time of the next attempt. Ignored when the row was claimed
     * again meanwhile. @return true when recorded
     */
    boolean recordCallback(String jobId, int attempt, String status, java.time.Instant nextAttemptAt, String error);

    /** The job's callback, if its spec had a {@code callback_url} and it reached a final state. */
    Optional<Callback> findCallback(String jobId);
    /**
     * Registers a runner or refreshes its row: host, pid, version, slots, the jobs it runs, and
     * {@code last_heartbeat} set to now. A runner calls it at start and then every few seconds, from a loop
     * of its own (never the lease loop), so that other processes can tell whether anything will lease the
     * queue. One upsert through the store's single writer: it shares the batch transaction of whatever else
     * this process writes.
     *
     * @return false, and nothing changed, when this run of the runner ({@link RunnerBeat#startedAt}) was
     *         already marked stopped: a beat that lands after {@link #runnerStopped} does not revive it
     */
    boolean runnerHeartbeat(RunnerBeat beat);

    /**
     * Marks the run of {@code runnerId} that started at {@code startedAt} as stopped (after a clean drain),
     * with no running jobs. @return false when there was no such running row
     */
    boolean runnerStopped(String runnerId, java.time.Instant startedAt);

    /** Every registered runner, live, stale or stopped, by host then id. */
    List<RunnerView> runners();

    /**
     * Deletes the rows of runners whose last heartbeat (or stop) is older than {@code before}: runners that
     * died or stopped long ago. @return the number of rows deleted
     */
    int pruneRunners(java.time.Instant before);

    // ---------------------------------------------------------------- dashboard sessions

    /**
     * Records a dashboard sign-in of the token whose SHA-256 digest is {@code tokenDigest}, created and last
     * seen now. Only the SHA-256 of {@code sessionId} is stored, never the id. Past {@link UiSession#MAX_PER_TOKEN}
     * sessions of this token, or {@link UiSession#MAX_TOTAL} in all, the oldest sign-ins are deleted in the same
     * transaction.
     */
    UiSession createUiSession(String sessionId, byte[] tokenDigest, String csrf);

    /**
     * The live session of this id, from any instance on this database (any gateway); empty for none and for one
     * that has expired ({@link UiSession#expiredAt}). Moves its last-seen time to now when it is at least
     * {@link UiSession#TOUCH_EVERY} old, so most requests only read.
     */
    Optional<UiSession> findUiSession(String sessionId);

    /** Ends a session (a sign-out, a token removed by a reload). @return false when there was none */
    boolean deleteUiSession(String sessionId);

    /**
     * Deletes up to {@code max} sessions that have expired at the store's clock: the sweep that keeps signed-out
     * browsers' rows from piling up. @return the number of rows deleted; {@code max} means more may be left
     */
    int deleteExpiredUiSessions(int max);
}
