package orchestrator.scheduler;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.schedule.ScheduleAction;
import orchestrator.core.schedule.ScheduleControl;
import orchestrator.core.schedule.ScheduleStatus;
import orchestrator.core.job.Source;
import orchestrator.core.store.FireResult;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.ScheduleState;
import orchestrator.core.store.StoreUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fires the schedules of {@code SCHEDULES_DIR} into the job store, exactly once per fire time across any
 * number of scheduler processes and restarts: each fire is {@link JobStore#fire}, which records a unique
 * {@code (schedule_id, fire_time)} row in the job's transaction, so a process that loses the race gets
 * {@code ALREADY_FIRED} and just moves on.
 *
 * <p>Per schedule it remembers the newest fire time it knows of ({@code last}): at first sight the
 * newest recorded fire, or, for a schedule never fired, the moment it was loaded (a new schedule does not
 * fire for times before it existed). Each {@link #tick} fires the due times in {@code (last, now]}. When
 * the oldest of them is more than {@link #MISFIRE_TOLERANCE} late (the scheduler was down or stalled), the
 * schedule's misfire policy decides; otherwise every due time fires. A disabled schedule's {@code last}
 * follows the clock, so enabling it later does not replay the disabled period.
 *
 * <p>A paused schedule ({@link JobStore#pauseSchedule}, kept in the store, so it holds for every scheduler
 * process and across restarts; read on each tick that has a fire due, and on every tick while a pause has
 * skipped a fire, so that a resume is seen within a second) records each due time as skipped instead of enqueuing,
 * the way an overlap skip is recorded, so the listing shows what the pause cost. On resume nothing fires
 * in a burst: the skipped times are recorded, hence not missed. Only a {@code run_once} or {@code catch_up}
 * schedule makes up for a pause that skipped fires, with one fire at the resume time (the store's
 * {@code resumed_at}, the same for every scheduler, so the fire row's key makes it one fire); catch_up does
 * not replay each paused time, since a pause is an operator's decision not to run them. A scheduler that
 * was down for the whole pause sees the gap as downtime, and the misfire policy applies as after any outage.
 *
 * <p>Thread-safe: {@link #tick}, {@link #runNow} and {@link #statuses} take one lock.
 */
public final class Scheduler implements ScheduleControl, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);
    /** A fire time this late or less is on time; older due times are misfires. */
    static final Duration MISFIRE_TOLERANCE = Duration.ofSeconds(60);
    /** The loop re-reads the folder at least this often, so an edited file takes effect within a second. */
    static final Duration MAX_WAIT = Duration.ofSeconds(1);
    /** Never spin: a loop that found nothing due waits at least this long. */
    static final Duration MIN_WAIT = Duration.ofMillis(5);
    /** Wake this much after a fire time, so the clock read at wake-up is past it. */
    private static final Duration WAKE_MARGIN = Duration.ofMillis(2);
    private static final int STATUS_NEXT_TIMES = 3;
    private static final int STATUS_RECENT_FIRES = 5;
    /** The reason of a fire skipped because the schedule was paused; a restarted scheduler recognises it by this prefix. */
    static final String PAUSED_REASON = "paused";

    private final JobStore store;
    private final Clock clock;
    private final String schedulerId;
    private final String actor;
    /** Used under {@code lock}: a reload hands it the parser of the new agents and projects. */
    private final ScheduleDirectory directory;
    private final Object lock = new Object();
    private final CountDownLatch closed = new CountDownLatch(1);

    // guarded by lock
    private List<ScheduleDirectory.Entry> entries = List.of();
    private final Map<String, Schedule> schedules = new LinkedHashMap<>();
    private final Map<String, Instant> lastFire = new HashMap<>();
    /** Schedules whose newest known fire was skipped because of a pause: on resume, the misfire policy decides on one fire. */
    private final java.util.Set<String> skippedWhilePaused = new java.util.HashSet<>();
    private Instant nextDue;
    private Thread loop;
    private final java.nio.file.Path schedulesDir;

    public Scheduler(SchedulerConfig config, CoreConfig core, JobStore store, Clock clock, String schedulerId) {
        Objects.requireNonNull(core, "core");
        this.store = Objects.requireNonNull(store, "store");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.schedulerId = Objects.requireNonNull(schedulerId, "schedulerId");
        this.actor = "scheduler:" + schedulerId;
        this.schedulesDir = config.schedulesDir();
        this.directory = new ScheduleDirectory(config.schedulesDir(),
                new ScheduleFileParser(core.agents().parser(), core.projects()));
    }

    /**
     * SIGHUP: the schedule files are read again, at the next tick, with the agents and projects of the new
     * configuration, so a schedule naming an agent just added to {@code AGENTS_FILE} loads. Fire history
     * and pauses are kept. {@code SCHEDULES_DIR} is the one setting only a restart changes.
     */
    public void reconfigure(CoreConfig core) {
        synchronized (lock) {
            directory.use(new ScheduleFileParser(core.agents().parser(), core.projects()));
        }
    }

    /** Starts the background loop (a daemon thread). Calling it twice is an error. */
    public void start() {
        synchronized (lock) {
            if (loop != null) {
                throw new IllegalStateException("scheduler " + schedulerId + " is already started");
            }
            loop = new Thread(this::runLoop, "scheduler-" + schedulerId);
            loop.setDaemon(true);
            loop.start();
        }
        log.info("scheduler {} started", schedulerId);
    }

    /** Stops the loop and waits briefly for it; the store is the caller's to close. */
    @Override
    public void close() {
        closed.countDown();
        Thread t;
        synchronized (lock) {
            t = loop;
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        log.info("scheduler {} stopped", schedulerId);
    }

    private void runLoop() {
        while (closed.getCount() > 0) {
            Duration wait = MAX_WAIT;
            try {
                tick();
                wait = untilNextDue();
            } catch (StoreUnavailableException e) {
                log.warn("scheduler {}: store unavailable, retrying next tick: {}", schedulerId, e.getMessage());
            } catch (Throwable e) {
                log.error("scheduler {}: tick failed, retrying next tick", schedulerId, e);
            }
            try {
                if (closed.await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                log.info("scheduler {} interrupted: stopping its loop", schedulerId);
                return;
            }
        }
    }

    private Duration untilNextDue() {
        Instant due;
        synchronized (lock) {
            due = nextDue;
        }
        if (due == null) {
            return MAX_WAIT;
        }
        Duration d = Duration.between(clock.instant(), due).plus(WAKE_MARGIN);
        return d.compareTo(MIN_WAIT) < 0 ? MIN_WAIT : d.compareTo(MAX_WAIT) > 0 ? MAX_WAIT : d;
    }

    /**
     * One pass: re-reads changed schedule files, then fires what is due. A failure of one schedule (the
     * store being unavailable, say) is logged and leaves the others firing; its due times are retried on
     * the next tick because {@code last} only advances past a fire the store recorded.
     */
    public void tick() {
        synchronized (lock) {
            Instant now = clock.instant();
            reload(now);
            // read before anything fires: when it cannot be read, nothing fires (a paused schedule must not). A tick
            // with nothing due and no pause to watch for a resume reads nothing: an idle scheduler costs the store no query
            Map<String, ScheduleState> states = Map.of();
            if (!skippedWhilePaused.isEmpty() || anyDue(now)) {
                try {
                    states = store.scheduleStates();
                } catch (StoreUnavailableException e) {
                    log.warn("scheduler {}: cannot read which schedules are paused, firing none this tick: {}", schedulerId, e.getMessage());
                    return;
                }
            }
            Instant earliest = null;
            for (Schedule s : schedules.values()) {
                if (!s.enabled()) {
                    continue;
                }
                try {
                    ScheduleState state = states.get(s.id());
                    if (state != null && state.paused()) {
                        skipPaused(s, now, state);
                    } else {
                        if (state != null) {
                            afterPause(s, state);
                        }
                        fireDue(s, now);
                    }
                } catch (StoreUnavailableException e) {
                    log.warn("schedule {}: store unavailable, will retry: {}", s.id(), e.getMessage());
                    continue; // its due time stays in the past: retry at the loop's normal pace, not in a spin
                } catch (RuntimeException e) {
                    log.error("schedule {}: firing failed, will retry", s.id(), e);
                    continue;
                }
                Instant last = lastFire.get(s.id());
                if (last == null) {
                    continue; // its last fire could not be read yet
                }
                Instant next = s.fireTimes().next(last);
                if (next != null && (earliest == null || next.isBefore(earliest))) {
                    earliest = next;
                }
            }
            nextDue = earliest;
        }
    }

    /** Whether an enabled schedule has a fire time in {@code (last, now]}: one to fire, or to skip if it is paused. */
    private boolean anyDue(Instant now) {
        for (Schedule s : schedules.values()) {
            Instant last = lastFire.get(s.id());
            Instant next = s.enabled() && last != null ? s.fireTimes().next(last) : null;
            if (next != null && !next.isAfter(now)) {
                return true;
            }
        }
        return false;
    }

    /** Re-scans the folder and brings {@code schedules} and {@code lastFire} in line with it. */
    private void reload(Instant now) {
        entries = directory.scan();
        schedules.clear();
        for (ScheduleDirectory.Entry e : entries) {
            Schedule s = e.schedule();
            if (s != null) {
                schedules.put(s.id(), s);
            }
        }
        lastFire.keySet().retainAll(schedules.keySet());
        skippedWhilePaused.retainAll(schedules.keySet());
        for (Schedule s : schedules.values()) {
            if (!s.enabled()) {
                lastFire.put(s.id(), now);
            } else if (!lastFire.containsKey(s.id())) {
                try {
                    List<ScheduleFire> recent = store.recentFires(s.id(), 1);
                    lastFire.put(s.id(), recent.isEmpty() ? now : recent.get(0).fireTime());
                    if (!recent.isEmpty() && pausedSkip(recent.get(0))) {
                        skippedWhilePaused.add(s.id());
                    }
                } catch (StoreUnavailableException e) {
                    log.warn("schedule {}: cannot read its last fire, will retry: {}", s.id(), e.getMessage());
                }
            }
        }
    }

    private void fireDue(Schedule s, Instant now) {
        Instant last = lastFire.get(s.id());
        if (last == null) {
            return;
        }
        FireTimes times = s.fireTimes();
        Instant first = times.next(last);
        if (first == null || first.isAfter(now)) {
            return;
        }
        if (!first.isBefore(now.minus(MISFIRE_TOLERANCE))) {
            for (Instant t = first; t != null && !t.isAfter(now); t = times.next(t)) {
                fire(s, t);
            }
            return;
        }
        switch (s.misfire()) {
            case SKIP -> {
                Instant newest = times.newest(last, now, 1).times().get(0);
                log.warn("schedule {}: missed fire times from {} to {}; misfire=skip fires none", s.id(), first, newest);
                skip(s, newest, "misfire: skip (missed fires from " + first + ")");
            }
            case RUN_ONCE -> {
                Instant newest = times.newest(last, now, 1).times().get(0);
                log.warn("schedule {}: missed fire times from {} to {}; misfire=run_once fires {} only", s.id(), first, newest, newest);
                fire(s, newest);
            }
            case CATCH_UP -> {
                FireTimes.Window w = times.newest(last, now, s.maxCatchUp());
                log.warn("schedule {}: missed fire times from {}; misfire=catch_up fires {} of them{}", s.id(), first,
                        w.times().size(), w.dropped() == null ? "" : " (max_catch_up), older ones dropped");
                if (w.dropped() != null) {
                    skip(s, w.dropped(), "misfire: catch_up limited to max_catch_up=" + s.maxCatchUp()
                            + ", fires from " + first + " to here dropped");
                }
                for (Instant t : w.times()) {
                    fire(s, t);
                }
            }
        }
    }

    private static boolean pausedSkip(ScheduleFire f) {
        return "skipped".equals(f.outcome()) && f.reason() != null && f.reason().startsWith(PAUSED_REASON);
    }

    /**
     * Records the newest due time of a paused schedule as skipped. Only the newest: on the loop's pace that is
     * every due time, and after a downtime one row says enough, not one per missed time.
     */
    private void skipPaused(Schedule s, Instant now, ScheduleState state) {
        Instant last = lastFire.get(s.id());
        if (last == null) {
            return;
        }
        Instant first = s.fireTimes().next(last);
        if (first == null || first.isAfter(now)) {
            return;
        }
        Instant newest = s.fireTimes().newest(last, now, 1).times().get(0);
        skip(s, newest, PAUSED_REASON + " by " + state.pausedBy() + " at " + state.pausedAt());
        skippedWhilePaused.add(s.id());
    }

    /** The first tick after a resume that followed skipped fires: one make-up fire if the misfire policy wants it. */
    private void afterPause(Schedule s, ScheduleState state) {
        if (state.resumedAt() == null || !skippedWhilePaused.contains(s.id())) {
            return;
        }
        Instant last = lastFire.get(s.id());
        if (last != null && !state.resumedAt().isAfter(last)) {
            skippedWhilePaused.remove(s.id()); // a fire after the resume is already known: handled
            return;
        }
        if (s.misfire() == MisfirePolicy.SKIP) {
            log.info("schedule {} resumed by {}: misfire=skip, the fires skipped while paused are not made up", s.id(), state.resumedBy());
        } else {
            log.info("schedule {} resumed by {}: misfire={} makes up for the paused fires with one fire at the resume", s.id(),
                    state.resumedBy(), s.misfire().wire());
            fire(s, state.resumedAt());
        }
        // due times between the last skip and the resume fell in the pause: they are not fired either
        if (last == null || state.resumedAt().isAfter(last)) {
            lastFire.put(s.id(), state.resumedAt());
        }
        skippedWhilePaused.remove(s.id());
    }

    private void fire(Schedule s, Instant fireTime) {
        FireResult r = store.fire(s.id(), fireTime, newJob(s, fireTime, actor), s.overlap() == OverlapPolicy.SKIP_IF_RUNNING, null);
        lastFire.put(s.id(), fireTime);
        skippedWhilePaused.remove(s.id());
        switch (r.kind()) {
            case ENQUEUED -> log.info("schedule {} fired for {}: job {} enqueued", s.id(), fireTime, r.jobId());
            case SKIPPED_OVERLAP -> log.info("schedule {} fire for {} skipped: its previous job is still running (overlap=skip_if_running)", s.id(), fireTime);
            case SKIPPED -> log.info("schedule {} fire for {} skipped", s.id(), fireTime);
            case ALREADY_FIRED -> log.debug("schedule {} fire for {} was already recorded (another scheduler)", s.id(), fireTime);
        }
    }

    private void skip(Schedule s, Instant fireTime, String reason) {
        FireResult r = store.fire(s.id(), fireTime, null, false, reason);
        lastFire.put(s.id(), fireTime);
        if (!reason.startsWith(PAUSED_REASON)) {
            skippedWhilePaused.remove(s.id());
        }
        log.info("schedule {} fire for {} recorded as skipped ({}): {}", s.id(), fireTime, r.kind(), reason);
    }

    private static NewJob newJob(Schedule s, Instant fireTime, String by) {
        return new NewJob(s.spec(), new Source("cron", Map.of("schedule_id", s.id(), "fire_time", fireTime.toString())), by);
    }

    /**
     * Fires a schedule now, whether or not it is enabled, paused or due: fire time is now truncated to the
     * second. {@code overlap=skip_if_running} still applies. A fire at the same second as a scheduled one is
     * the same fire ({@code ALREADY_FIRED} for whichever comes second). The job's actor is this scheduler.
     *
     * @throws ScheduleException for an unknown id or a broken schedule file
     */
    public FireResult runNow(String scheduleId) {
        return runNow(scheduleId, actor);
    }

    /** {@link #runNow(String)} on behalf of {@code by} (a token name, {@code cli:<user>}), who the audit log names. */
    public FireResult runNow(String scheduleId, String by) {
        synchronized (lock) {
            Instant now = clock.instant();
            reload(now);
            Schedule s = schedules.get(scheduleId);
            if (s == null) {
                for (ScheduleDirectory.Entry e : entries) {
                    if (scheduleId.equals(e.parsed().id())) {
                        throw new ScheduleException("schedule '" + scheduleId + "' is broken (" + e.file() + "): " + e.error());
                    }
                }
                throw new ScheduleException(notFound(scheduleId));
            }
            Instant fireTime = now.truncatedTo(ChronoUnit.SECONDS);
            FireResult r = store.fire(s.id(), fireTime, newJob(s, fireTime, by), s.overlap() == OverlapPolicy.SKIP_IF_RUNNING, null);
            log.info("schedule {} run now for {} by {}: {} {}", s.id(), fireTime, by, r.kind(), r.jobId() == null ? "" : r.jobId());
            return r;
        }
    }

    @Override
    public ScheduleAction run(String scheduleId, String by) {
        FireResult r;
        try {
            r = runNow(scheduleId, by);
        } catch (ScheduleException e) {
            return new ScheduleAction(known(scheduleId) ? ScheduleAction.Kind.BROKEN : ScheduleAction.Kind.NOT_FOUND,
                    e.getMessage(), status(scheduleId), null);
        }
        return new ScheduleAction(ScheduleAction.Kind.DONE, scheduleId + ": " + r.kind().name().toLowerCase(java.util.Locale.ROOT)
                + (r.jobId() == null ? "" : " job " + r.jobId()), status(scheduleId), r);
    }

    @Override
    public ScheduleAction pause(String scheduleId, String by) {
        return setPaused(scheduleId, by, true);
    }

    @Override
    public ScheduleAction resume(String scheduleId, String by) {
        return setPaused(scheduleId, by, false);
    }

    /** Any schedule file with this id, broken ones too: a broken schedule can be paused before it is fixed. */
    private ScheduleAction setPaused(String scheduleId, String by, boolean pause) {
        synchronized (lock) {
            reload(clock.instant());
            if (!known(scheduleId)) {
                return new ScheduleAction(ScheduleAction.Kind.NOT_FOUND, notFound(scheduleId), null, null);
            }
            boolean changed = pause ? store.pauseSchedule(scheduleId, by) : store.resumeSchedule(scheduleId, by);
            log.info("schedule {} {} by {}{}", scheduleId, pause ? "paused" : "resumed", by,
                    changed ? "" : pause ? " (it already was)" : " (it was not paused)");
            String message = scheduleId + (changed ? pause ? ": paused" : ": resumed" : pause ? ": already paused" : ": not paused");
            return new ScheduleAction(changed ? ScheduleAction.Kind.DONE : ScheduleAction.Kind.UNCHANGED, message,
                    status(scheduleId), null);
        }
    }

    /**
     * An empty listing names the folder it read: on several hosts, a gateway without the scheduler hosts' files lists
     * nothing while the schedulers fire.
     */
    @Override
    public String noneNote() {
        return "no schedule files in SCHEDULES_DIR (" + schedulesDir + "); each process reads only its own host's:"
                + " on several hosts, give every gateway the scheduler hosts' schedule files";
    }

    /**
     * Why no schedule file of this host has {@code scheduleId}. When the store has fires of it, the schedule
     * exists on another host (a gateway or runner host without the scheduler hosts' files): the message says so,
     * since every process reads only its own {@code SCHEDULES_DIR}.
     */
    @Override
    public String notFound(String scheduleId) {
        String here;
        synchronized (lock) {
            here = "unknown schedule '" + scheduleId + "'; the schedules in SCHEDULES_DIR (" + schedulesDir + ") are "
                    + (schedules.isEmpty() ? "none" : new java.util.TreeSet<>(schedules.keySet()).toString());
        }
        List<ScheduleFire> fires;
        try {
            fires = store.recentFires(scheduleId, 1);
        } catch (StoreUnavailableException e) {
            return here;
        }
        if (fires.isEmpty()) {
            return here;
        }
        return here + ". The store has fires of '" + scheduleId + "' (the last for " + fires.get(0).fireTime()
                + "): it is defined on another host, and this one reads only its own SCHEDULES_DIR; give it the"
                + " scheduler hosts' schedule files";
    }

    private boolean known(String scheduleId) {
        return entries.stream().anyMatch(e -> scheduleId.equals(e.parsed().id()));
    }

    private ScheduleStatus status(String scheduleId) {
        return statuses().stream().filter(st -> scheduleId.equals(st.id())).findFirst().orElse(null);
    }

    /** Every schedule file, valid or broken, sorted by file name, with its next and last fires and its pause. */
    @Override
    public List<ScheduleStatus> statuses() {
        synchronized (lock) {
            Instant now = clock.instant();
            reload(now);
            Map<String, ScheduleState> states = store.scheduleStates();
            List<ScheduleStatus> out = new ArrayList<>();
            for (ScheduleDirectory.Entry e : entries) {
                ScheduleFileParser.Parsed p = e.parsed();
                Schedule s = e.schedule();
                List<ScheduleFire> recent = p.id() == null ? List.of() : store.recentFires(p.id(), STATUS_RECENT_FIRES);
                List<Instant> next = s == null || !s.enabled() ? List.of()
                        : s.fireTimes().nextTimes(later(now, lastFire.get(s.id())), STATUS_NEXT_TIMES);
                out.add(new ScheduleStatus(p.id(), e.file(), p.enabled(), p.expression(), p.timezone(),
                        s == null ? null : s.misfire().wire(), s == null ? null : s.overlap().wire(),
                        s == null ? null : s.spec().project(), next, recent,
                        p.id() == null ? null : states.get(p.id()), e.error()));
            }
            return out;
        }
    }

    private static Instant later(Instant a, Instant b) {
        return b == null || a.isAfter(b) ? a : b;
    }
}
