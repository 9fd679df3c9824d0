package orchestrator.runner;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.agent.AgentCatalog;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.store.HeartbeatResult;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.Lease;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.core.store.StoredFiles;
import orchestrator.runner.artifact.StoreShipping;
import orchestrator.runner.callback.CallbackSender;
import orchestrator.runner.process.Redactor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * A runner: leases jobs from the store up to {@code RUNNER_CONCURRENCY} at a time, runs each on a
 * worker thread, and keeps their leases alive with heartbeats.
 *
 * <p>Two background threads: the lease loop (with a free slot, waits on the store's change signal,
 * {@link JobStore#awaitChange}: on SQLite a read of the change counter every {@value #CHANGE_POLL_MS} ms,
 * on PostgreSQL a NOTIFY; and leases when it moved, at once when a job ends, and when the earliest delayed
 * job comes due, {@link JobStore#nextRunAt}; requeues other runners' expired leases just after the earliest
 * expiry, {@link JobStore#nextLeaseExpiry}, and at least every lease TTL / 3: an idle runner queries nothing
 * on a timer but its registry row) and the heartbeat loop (every lease TTL / 3; turns a
 * cancel request or a lost lease into a stop request for the job's worker). Both survive any
 * error. {@link #drain} is the SIGTERM path.
 *
 * <p>A third loop writes the runner's row in the store's {@code runners} table (host, pid, version,
 * slots, running jobs) every quarter of {@code RUNNER_STALE_SEC}, at most every {@value #REGISTRY_MAX_EVERY_MS}
 * ms: that is how the gateway, {@code doctor} and {@code orchestrator runners} know that something will
 * lease the queue. It is a loop of its own, not part of the lease heartbeat, so an idle runner (no leases
 * to extend) still shows up and a slow registry write never delays a lease extension.
 */
public final class Runner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Runner.class);
    /**
     * With a free slot: how often the store's change counter is read (a shared-memory read, no lock).
     * A lease (a write transaction) is tried only when it moved, so idle runners cost the disk nothing
     * and a new job starts within a few ms.
     */
    static final long CHANGE_POLL_MS = 2;
    /** The longest an idle lease loop waits on the store's change signal before it looks at drains and ended jobs. */
    static final long WAKE_SLICE_MS = 50;
    /**
     * An idle runner leases when the store's change signal moves, or when the earliest delayed job comes due
     * ({@link JobStore#nextRunAt}); and, whatever happens, at least this often: a write that made a job
     * leasable and failed to signal (none is known) would still be seen.
     */
    static final long LEASE_SAFETY_MS = 30_000;
    /** With only a few free slots: how long after the last lease to wait for more slots to free up. */
    static final long GATHER_MS = 2;
    /** The soonest a requeue look follows one that left an expired lease alone. */
    static final long REQUEUE_EVERY_MS = 1_000;
    /**
     * The callback loop's tick: it reads the store's change counter this often (memory on PostgreSQL, a
     * shared-memory read on SQLite) and claims callbacks only when the counter moved since its last claim
     * or a pending callback came due ({@link JobStore#nextCallbackAt}), at least every {@value #CALLBACK_SAFETY_MS} ms.
     * The end of one of this runner's jobs wakes it at once (and the delivery loop), so its callback is not
     * a tick late; the tick is for callbacks queued elsewhere (a cancel through a gateway) and retries.
     */
    static final long CALLBACK_POLL_MS = 500;
    static final long CALLBACK_SAFETY_MS = 30_000;
    /** How often each runner looks for step processes that no live lease owns ({@link OrphanSweep}). */
    static final long ORPHAN_SWEEP_MS = 5_000;
    private static final long MIN_BACKOFF_MS = 100;
    private static final long MAX_BACKOFF_MS = 5_000;
    /** close(): how long running jobs may finish before they are killed and released. */
    static final Duration CLOSE_GRACE = Duration.ofSeconds(2);
    /** The longest pause between two registry heartbeats, whatever {@code RUNNER_STALE_SEC} is. */
    static final long REGISTRY_MAX_EVERY_MS = 5_000;
    /** Rows of runners not heard of for this long are deleted (by any runner). */
    static final Duration REGISTRY_ROW_TTL = Duration.ofDays(1);
    /** How often a runner prunes those rows. */
    static final long REGISTRY_PRUNE_EVERY_MS = 10 * 60 * 1000;
    /** After the kill at the end of a drain: how long the workers get to release their jobs. */
    private static final Duration RELEASE_WAIT = Duration.ofSeconds(30);

    private final CoreConfig core;
    private final JobStore store;
    private final Clock clock;
    private final String runnerId;
    /**
     * The settings for jobs started from now on: {@link #reload} swaps it, a job keeps the context it
     * started with. Volatile: the lease loop reads it while the app's SIGHUP thread writes it.
     */
    private volatile RunnerContext context;
    /** Set when a job ends: the lease loop tries a lease at once instead of waiting for the counter. */
    private final AtomicBoolean slotFreed = new AtomicBoolean();
    private final Map<String, RunningJob> running = new ConcurrentHashMap<>();
    private final Object wake = new Object();
    private final ExecutorService workers;
    private final CountDownLatch heartbeatStop = new CountDownLatch(1);
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean draining = new AtomicBoolean();
    private volatile boolean leasing = true;
    private Thread leaseThread;
    private Thread heartbeatThread;
    private Thread fenceThread;
    private Thread callbackThread;
    private Thread retentionThread;
    private Thread orphanThread;
    private Thread registryThread;
    /** When this run started (the store tells runs under one id apart by it); null until {@link #start}. */
    private volatile java.time.Instant startedAt;
    private String host;
    /** Counted down by drain: ends the callback and retention loops. */
    private final CountDownLatch backgroundStop = new CountDownLatch(1);
    /** Poked when a job of this runner ends: the callback and delivery loops then look at once, not at their next tick. */
    private final Nap callbacksNap = new Nap();
    private final Nap deliveriesNap = new Nap();
    private final CallbackSender callbacks;
    private final StoreShipping shipping;
    /** Results back to GitHub and Slack for the jobs this host ran (its workspaces are here). */
    private final orchestrator.runner.delivery.Deliveries deliveries;
    private Thread deliveryThread;

    public Runner(RunnerConfig config, CoreConfig core, JobStore store, Clock clock, String runnerId) {
        this(config, core, store, clock, runnerId, Optional.empty());
    }

    /**
     * @param storedFiles where the jobs' logs and artifacts are put for other hosts to serve (PostgreSQL); empty on
     *                    a one-host store (SQLite), where the gateway reads this host's folder
     */
    public Runner(RunnerConfig config, CoreConfig core, JobStore store, Clock clock, String runnerId,
                  Optional<StoredFiles> storedFiles) {
        this.core = core;
        this.store = store;
        this.clock = clock;
        this.runnerId = runnerId;
        this.shipping = StoreShipping.of(storedFiles, runnerId, () -> context.config().output().storedArtifactMaxBytes());
        this.context = context(config, core);
        this.callbacks = new CallbackSender(store, clock, () -> {
            RunnerConfig.Callbacks c = context.config().callbacks();
            return new CallbackSender.Settings(c.hmacSecret(), c.maxAttempts(), c.allowPrivate());
        }, runnerId, CallbackSender.DEFAULT_BACKOFF_BASE);
        this.deliveries = new orchestrator.runner.delivery.Deliveries(store, clock, () -> context.core(),
                () -> context.config().delivery(), () -> context.childEnv(), runnerId, CallbackSender.DEFAULT_BACKOFF_BASE);
        AtomicInteger n = new AtomicInteger();
        // not a fixed pool: RUNNER_CONCURRENCY can change on reload; the lease loop bounds the jobs in flight
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "runner-" + runnerId + "-job-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    private final VersionCheck versions = new VersionCheck();

    private RunnerContext context(RunnerConfig config, CoreConfig core) {
        Map<String, String> own = System.getenv();
        // an allowlisted variable set only in the --config file reaches the steps as one of the environment would
        Map<String, String> given = new java.util.HashMap<>(config.fileVariables().values());
        given.putAll(own);
        Map<String, String> childEnv = stepEnvironment(given, config.envAllowlist());
        // the settings' values (a --config file's too, which the process environment lacks), and the environment's
        List<String> secrets = new ArrayList<>(config.secrets().values());
        secrets.addAll(RunnerConfig.Secrets.of(own::get, config.sensitiveEnvVars()).values());
        return new RunnerContext(config, core, store, clock, runnerId, Map.copyOf(childEnv), new Redactor(secrets), versions, storeTag(core), shipping);
    }

    /**
     * The base of every step's environment: the allowlisted variables of the runner's own, except the
     * integrations' credentials ({@code GITHUB_TOKEN}, {@code SLACK_BOT_TOKEN}, the signing secrets), which
     * are the runner's for delivery and reach no agent step even when ENV_ALLOWLIST names them.
     */
    static Map<String, String> stepEnvironment(Map<String, String> own, List<String> allowlist) {
        Map<String, String> childEnv = new LinkedHashMap<>();
        for (String name : allowlist) {
            if (orchestrator.runner.delivery.DeliverySettings.CREDENTIALS.contains(name)) {
                log.warn("ENV_ALLOWLIST names {}: not passed to agent steps (the GitHub/Slack credentials never are)", name);
                continue;
            }
            if (own.containsKey(name)) {
                childEnv.put(name, own.get(name));
            }
        }
        return childEnv;
    }

    /**
     * Swaps the runner's settings and agents (the app calls this on SIGHUP after re-reading the
     * environment). Jobs leased after it use them; running jobs keep theirs. A larger
     * {@code RUNNER_CONCURRENCY} leases more at once; a smaller one leases nothing until enough jobs
     * ended. {@code ORCH_HOME}, the database and the lease TTL do not change without a restart.
     * Safe to call from any thread.
     */
    public synchronized void reload(RunnerConfig newConfig, AgentCatalog newAgents) {
        reload(newConfig, newAgents, context.core().projects());
    }

    /** As {@link #reload(RunnerConfig, AgentCatalog)}, with new {@code PROJECT_ALIASES} too. */
    public synchronized void reload(RunnerConfig newConfig, AgentCatalog newAgents, Map<String, java.nio.file.Path> projects) {
        RunnerContext old = context;
        CoreConfig c = old.core();
        CoreConfig next = c.withReloadable(newAgents, projects);
        context = context(newConfig, next);
        log.info("runner {} reloaded its configuration: concurrency {} -> {}, {} agents", runnerId,
                old.config().concurrency(), newConfig.concurrency(), newAgents.names().size());
        warnIfNetworkUnenforced(newConfig);
        slotFreed.set(true);
        signal();
    }

    /**
     * MIN_BINARY_VERSIONS at start and reload: says which installed binaries are too old now, instead of at
     * their first step. Missing binaries are only mentioned: with ENABLE_REAL_CLI=0 none is needed.
     */
    private void checkVersions(RunnerConfig config) {
        String path = context.childEnv().getOrDefault("PATH", System.getenv("PATH"));
        config.minVersions().forEach((name, min) -> {
            java.nio.file.Path bin = VersionCheck.onPath(name, path);
            if (bin == null) {
                log.info("MIN_BINARY_VERSIONS names {} (at least {}), which is not on PATH", name, min);
                return;
            }
            String refused = versions.refusal(bin, config.minVersions());
            if (refused != null) {
                log.warn("{}; its steps will fail with error policy", refused);
            }
        });
    }

    /** The settings jobs leased now get. */
    public RunnerConfig config() {
        return context.config();
    }

    private void warnIfNetworkUnenforced(RunnerConfig config) {
        if (config.sandboxUnavailable()) {
            log.warn("SANDBOX=1 but SANDBOX_WRAPPER is not set: agent steps of jobs whose policy.sandbox is true will fail"
                    + " with error policy (simulated steps still run); set a wrapper (bwrap, firejail, systemd-run ...) or SANDBOX=0");
        }
        checkVersions(config);
        if (config.policy().network().equals("deny") && config.sandboxWrapper().isEmpty()) {
            log.warn("NETWORK_POLICY is deny but SANDBOX_WRAPPER is not set: nothing cuts agents off the network "
                    + "(set a wrapper such as bwrap --unshare-net or systemd-run -p PrivateNetwork=yes)");
        }
    }

    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("runner " + runnerId + " is already started");
        }
        leaseThread = new Thread(this::leaseLoop, "runner-" + runnerId + "-lease");
        heartbeatThread = new Thread(this::heartbeatLoop, "runner-" + runnerId + "-heartbeat");
        fenceThread = new Thread(this::fenceLoop, "runner-" + runnerId + "-fence");
        leaseThread.setDaemon(true);
        heartbeatThread.setDaemon(true);
        fenceThread.setDaemon(true);
        startedAt = clock.instant();
        host = hostname();
        // registered before the first lease: a gateway in the same process (serve) is ready as soon as this returns
        registryBeat();
        pruneRegistry();
        registryThread = new Thread(this::registryLoop, "runner-" + runnerId + "-registry");
        registryThread.setDaemon(true);
        registryThread.start();
        leaseThread.start();
        heartbeatThread.start();
        fenceThread.start();
        callbackThread = background("callbacks", () -> CALLBACK_POLL_MS, callbacksNap, new CallbackRounds()::due);
        deliveryThread = background("deliveries", () -> CALLBACK_POLL_MS, deliveriesNap, deliveries::deliverDue);
        // retention sweeps: once at start, then every RETENTION_INTERVAL_SEC (10 minutes) plus up to 10 % jitter
        RetentionSweep sweep = new RetentionSweep(store, clock, core.artifactsDir(), core.workspacesDir(),
                () -> context.config().retention(), runnerId, shipping.files());
        // jittered so that several runners started together do not sweep together
        retentionThread = background("retention",
                () -> {
                    long every = context.config().retention().intervalSec() * 1000;
                    return every + java.util.concurrent.ThreadLocalRandom.current().nextLong(Math.max(1, every / 10));
                },
                () -> {
                    try {
                        sweep.sweep();
                    } catch (java.io.IOException e) {
                        log.warn("retention sweep failed: {}", e.toString());
                    }
                    return false;
                });
        OrphanSweep orphans = new OrphanSweep(store, storeTag(core), runnerId, running::containsKey);
        orphanThread = background("orphans", () -> ORPHAN_SWEEP_MS, () -> {
            try {
                orphans.sweep();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return false;
        });
        log.info("runner {} started: concurrency {}, lease ttl {} s", runnerId, context.config().concurrency(), core.leaseTtl().toSeconds());
        warnIfNetworkUnenforced(context.config());
    }

    /** Jobs in flight on this runner. */
    public int running() {
        return running.size();
    }

    // ------------------------------------------------------------------ lease loop

    private void leaseLoop() {
        MDC.put("runner_id", runnerId);
        long nextRequeue = System.nanoTime();
        long lastLease = System.nanoTime();
        // when a lease is due with no signal: at once at the start, then at the earliest delayed run_at
        long leaseDue = lastLease;
        long seen = Long.MIN_VALUE;
        long backoff = MIN_BACKOFF_MS;
        while (leasing) {
            try {
                long now = System.nanoTime();
                if (now - nextRequeue >= 0) {
                    int n = store.requeueExpired(runnerId);
                    if (n > 0) {
                        log.info("requeued {} jobs whose lease expired", n);
                    }
                    nextRequeue = nextRequeueCheck();
                }
                RunnerContext ctx = context;
                int free = ctx.config().concurrency() - running.size();
                // nothing to do until the store changes (or a delayed job comes due): wait on the store
                boolean quiet = false;
                if (free > 0) {
                    // Read before leasing: a commit after this read moves the counter again, so a job
                    // enqueued while we lease is seen at the next poll, never missed.
                    long counter = store.changeCounter();
                    // Under load, slots free one at a time as jobs end; leasing each at once costs every
                    // process a write transaction per job, and several runner processes then take turns
                    // at the database lock. Fewer than a quarter of the slots free while jobs run: wait
                    // up to GATHER_MS after the last lease for more. An idle runner leases at once.
                    boolean gather = !running.isEmpty() && free < ctx.config().concurrency() / 4
                            && now - lastLease < TimeUnit.MILLISECONDS.toNanos(GATHER_MS);
                    boolean freed = !gather && slotFreed.getAndSet(false);
                    if (!gather && (counter != seen || freed || now - leaseDue >= 0)) {
                        seen = counter;
                        lastLease = now;
                        java.time.Instant asked = clock.instant();
                        long askedNanos = System.nanoTime();
                        List<Lease> leased = store.lease(runnerId, free);
                        for (Lease l : leased) {
                            launch(ctx, l, askedNanos);
                        }
                        // fewer than asked for: nothing else was due, and without a signal the next job comes due at
                        // the earliest run_at after this lease asked (one that came due since is leased at once);
                        // all asked for: a freed slot leases again anyway
                        leaseDue = dueAt(leased.size() < free ? store.nextRunAt(asked) : java.util.Optional.empty(), LEASE_SAFETY_MS);
                    } else {
                        quiet = !gather && !freed;
                    }
                }
                backoff = MIN_BACKOFF_MS;
                long untilRequeue = millisUntil(nextRequeue);
                if (quiet && running.size() < context.config().concurrency()) {
                    // a free slot and nothing new: wait for the store's change signal (SQLite: a read of
                    // data_version every few ms; PostgreSQL: a NOTIFY, no query at all), in slices so
                    // that a drain or an ended job is noticed, never past a due lease or requeue check
                    store.awaitChange(seen, Math.min(WAKE_SLICE_MS, Math.min(millisUntil(leaseDue), untilRequeue)));
                } else {
                    // just leased, or gathering: look again soon; every slot taken: sleep until a job ends
                    waitForWake(running.size() < context.config().concurrency() ? CHANGE_POLL_MS : untilRequeue);
                }
            } catch (StoreUnavailableException e) {
                log.warn("store unavailable while leasing; retrying in {} ms: {}", backoff, e.getMessage());
                backoff = pause(backoff);
            } catch (Throwable t) {
                log.error("lease loop error; retrying in {} ms", backoff, t);
                backoff = pause(backoff);
            }
            if (Thread.currentThread().isInterrupted()) {
                break;
            }
        }
        log.info("runner {} stopped leasing", runnerId);
    }

    /**
     * When to look for expired leases next: just after the earliest lease expiry the store holds, and at least
     * every third of this runner's lease TTL (a host with a shorter TTL may lease meanwhile). An expiry already
     * past that this look did not requeue (another runner is at it, or that host's clock is ahead) is looked at
     * again after {@value #REQUEUE_EVERY_MS} ms.
     */
    private long nextRequeueCheck() {
        java.time.Instant now = clock.instant();
        java.util.Optional<java.time.Instant> look = store.nextLeaseExpiry()
                .map(t -> t.isAfter(now) ? t : now.plusMillis(REQUEUE_EVERY_MS));
        return dueAt(look, Math.max(REQUEUE_EVERY_MS, core.leaseTtl().toMillis() / 3));
    }

    /**
     * The {@code System.nanoTime()} at which {@code at} (a store time, on this runner's clock) comes: a
     * millisecond after it, since the store compares strictly, and at once when it has passed; {@code safetyMs}
     * from now when there is no such time or it is further off. Both clocks are read here, together: a
     * deadline taken from an earlier nanoTime would come early by however long the store took to answer.
     */
    private long dueAt(java.util.Optional<java.time.Instant> at, long safetyMs) {
        long now = System.nanoTime();
        long ms = at.map(t -> Math.max(0, t.toEpochMilli() - clock.millis()) + 1).orElse(safetyMs);
        return now + TimeUnit.MILLISECONDS.toNanos(Math.min(ms, safetyMs));
    }

    /** Milliseconds from now to a {@code System.nanoTime()} deadline, at least 1. */
    private static long millisUntil(long deadline) {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }

    private long pause(long backoff) {
        waitForWake(backoff);
        return Math.min(backoff * 2, MAX_BACKOFF_MS);
    }

    private void waitForWake(long ms) {
        synchronized (wake) {
            if (!leasing) {
                return;
            }
            try {
                wake.wait(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void signal() {
        synchronized (wake) {
            wake.notifyAll();
        }
    }

    private void launch(RunnerContext ctx, Lease lease, long askedNanos) {
        RunningJob job = new RunningJob(lease, askedNanos);
        running.put(lease.jobId(), job);
        try {
            workers.execute(() -> {
                try {
                    new JobRun(ctx, job).run();
                } finally {
                    running.remove(lease.jobId(), job);
                    slotFreed.set(true);
                    signal();
                    // its end queued its callback and made its deliveries due
                    callbacksNap.poke();
                    deliveriesNap.poke();
                }
            });
        } catch (RuntimeException e) {
            // the pool is shut down: the job goes back to the queue untouched
            running.remove(lease.jobId(), job);
            store.release(lease, "runner " + runnerId + " stopping");
            throw e;
        }
    }

    /** The tag of this installation's store in its step processes' {@code ORCH_LEASE}. */
    static String storeTag(orchestrator.core.config.CoreConfig core) {
        // PostgreSQL: the same URL (no password) on every host of the installation
        return OrphanSweep.storeTag(core.postgres() != null ? core.storeName() : core.databasePath().toAbsolutePath().normalize().toString());
    }

    // ------------------------------------------------------------------ callbacks, retention

    /**
     * A loop that runs {@code task} every {@code everyMs} until drain, surviving any error; when the
     * task returns true (more work waiting) it runs again at once.
     */
    private Thread background(String name, java.util.function.LongSupplier everyMs, java.util.function.BooleanSupplier task) {
        return background(name, everyMs, null, task);
    }

    /** As above; {@code nap}, when not null, also ends each wait when it is poked. */
    private Thread background(String name, java.util.function.LongSupplier everyMs, Nap nap, java.util.function.BooleanSupplier task) {
        Thread t = new Thread(() -> {
            MDC.put("runner_id", runnerId);
            while (true) {
                boolean more = false;
                try {
                    more = task.getAsBoolean();
                } catch (StoreUnavailableException e) {
                    log.warn("{}: store unavailable: {}", name, e.getMessage());
                } catch (Throwable e) {
                    log.error("{} loop error", name, e);
                }
                try {
                    long ms = more ? 0 : everyMs.getAsLong();
                    if (nap == null ? backgroundStop.await(ms, TimeUnit.MILLISECONDS) : nap.sleep(ms)) {
                        return;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }, "runner-" + runnerId + "-" + name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * What a background loop sleeps on besides the drain: {@link #sleep} ends at its timeout, at a {@link #poke}
     * (one that came while the loop was busy is kept for its next sleep, so none is lost), or when the runner
     * drains.
     */
    private final class Nap {
        private boolean poked;

        synchronized void poke() {
            poked = true;
            notifyAll();
        }

        /** @return true when the runner is draining */
        synchronized boolean sleep(long ms) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            while (!poked && backgroundStop.getCount() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            poked = false;
            return backgroundStop.getCount() == 0;
        }
    }

    /**
     * The callback loop's task, run every {@value #CALLBACK_POLL_MS} ms: a claim round only when one can find
     * something. A callback is queued by a job's end, whose commit moves the change counter of the process
     * that wrote it (and, for a cancel outside a runner, every process's); a retry or a dead runner's claim
     * comes due at {@link JobStore#nextCallbackAt}. So an idle runner makes no query here.
     */
    private final class CallbackRounds {
        private long seen = Long.MIN_VALUE;
        private long due = System.nanoTime();

        boolean due() {
            long now = System.nanoTime();
            long counter = store.changeCounter();
            if (counter == seen && now - due < 0) {
                return false;
            }
            // a round that fails (the store is away) leaves both as they were: the next tick tries again
            boolean more = callbacks.deliverDue() == CallbackSender.BATCH;
            due = more ? now : dueAt(store.nextCallbackAt(), CALLBACK_SAFETY_MS);
            seen = counter;
            return more;
        }
    }

    // ------------------------------------------------------------------ heartbeats

    private void heartbeatLoop() {
        MDC.put("runner_id", runnerId);
        long interval = Math.max(100, core.leaseTtl().toMillis() / 3);
        long wait = interval;
        while (true) {
            try {
                if (heartbeatStop.await(wait, TimeUnit.MILLISECONDS)) {
                    return;
                }
                beat();
                wait = interval;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (StoreUnavailableException e) {
                log.warn("store unavailable during heartbeat; a step whose lease is not renewed within {} s of its last renewal is"
                        + " killed: {}", fenceAfter().toMillis() / 1000.0, e.getMessage());
                // the leases run out meanwhile: try again soon rather than a whole interval later
                wait = Math.min(interval, HEARTBEAT_RETRY_MS);
            } catch (Throwable t) {
                log.error("heartbeat loop error", t);
            }
        }
    }

    /** How soon a heartbeat that failed is tried again (at most the heartbeat interval). */
    private static final long HEARTBEAT_RETRY_MS = 1_000;

    /**
     * How long after the last renewal of its lease a step is killed when no heartbeat renews it: the lease's TTL less a
     * tenth of it (at least a second), for the kill to finish and for a clock up to that far ahead on the host that
     * would take the job. {@link #fenceLoop}.
     */
    Duration fenceAfter() {
        long ttl = core.leaseTtl().toMillis();
        return Duration.ofMillis(ttl - Math.max(1_000, ttl / 10));
    }

    /**
     * Self-fencing. A runner that cannot reach the store (a cut link, the server away) cannot renew its leases, and
     * cannot hear that they were taken: once one has expired, another runner requeues the job and runs it again. So
     * a step whose lease was not renewed within {@link #fenceAfter()} is killed here, before its lease expires, and its
     * job writes nothing more: the job runs again as after any lost lease. A store call can hang for as long as its
     * socket timeout, which is why this is a thread of its own and not the heartbeat's.
     */
    private void fenceLoop() {
        MDC.put("runner_id", runnerId);
        long fenceNanos = fenceAfter().toNanos();
        while (true) {
            try {
                long now = System.nanoTime();
                long next = now + fenceNanos;
                for (RunningJob j : running.values()) {
                    if (j.lost() || j.isEnding()) {
                        continue;
                    }
                    long deadline = j.renewedNanos() + fenceNanos;
                    if (now - deadline >= 0) {
                        MDC.put("job_id", j.lease().jobId());
                        try {
                            log.warn("no heartbeat renewed this job's lease for {} ms (LEASE_TTL_SEC {}): it may expire and go to"
                                    + " another runner; killing its step, writing nothing more", TimeUnit.NANOSECONDS.toMillis(now - j.renewedNanos()),
                                    core.leaseTtl().toSeconds());
                        } finally {
                            MDC.remove("job_id");
                        }
                        j.stop(RunningJob.Stop.LEASE_LOST);
                    } else if (deadline - next < 0) {
                        next = deadline;
                    }
                }
                if (heartbeatStop.await(Math.max(1, TimeUnit.NANOSECONDS.toMillis(next - now) + 1), TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Throwable t) {
                log.error("lease fence loop error", t);
                try {
                    if (heartbeatStop.await(100, TimeUnit.MILLISECONDS)) {
                        return;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void beat() {
        List<Lease> leases = new ArrayList<>();
        for (RunningJob j : running.values()) {
            // a job writing its outcome needs no more heartbeats, and its lease may end any moment
            if (!j.lost() && !j.isEnding()) {
                leases.add(j.lease());
            }
        }
        if (leases.isEmpty()) {
            return;
        }
        long sent = System.nanoTime();
        for (HeartbeatResult r : store.heartbeat(leases)) {
            RunningJob j = running.get(r.jobId());
            if (j != null && r.status() != HeartbeatResult.Status.LOST) {
                j.renewed(sent);
            }
            if (j == null || j.isEnding() || r.status() == HeartbeatResult.Status.ALIVE) {
                continue;
            }
            MDC.put("job_id", r.jobId());
            try {
                if (r.status() == HeartbeatResult.Status.CANCEL_REQUESTED) {
                    if (j.stopRequest() == null) {
                        log.info("cancel requested; stopping the job");
                    }
                    j.stop(RunningJob.Stop.CANCELLED);
                } else {
                    log.warn("lease lost (expired and taken, or the job ended elsewhere); killing its step");
                    j.stop(RunningJob.Stop.LEASE_LOST);
                }
            } finally {
                MDC.remove("job_id");
            }
        }
    }

    // ------------------------------------------------------------------ registry

    private void registryLoop() {
        MDC.put("runner_id", runnerId);
        long every = Math.max(250, Math.min(REGISTRY_MAX_EVERY_MS, core.runnerStaleAfter().toMillis() / 4));
        long nextPrune = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REGISTRY_PRUNE_EVERY_MS);
        while (true) {
            try {
                if (backgroundStop.await(every, TimeUnit.MILLISECONDS)) {
                    return;
                }
                registryBeat();
                if (System.nanoTime() - nextPrune >= 0) {
                    nextPrune = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REGISTRY_PRUNE_EVERY_MS);
                    pruneRegistry();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Throwable t) {
                log.error("registry loop error", t);
            }
        }
    }

    /** Writes this runner's row; a failure is logged and the next beat tries again. */
    private void registryBeat() {
        try {
            boolean written = store.runnerHeartbeat(new orchestrator.core.store.RunnerBeat(runnerId, host,
                    ProcessHandle.current().pid(), VERSION, context.config().concurrency(), List.copyOf(running.keySet()),
                    draining.get(), startedAt));
            if (!written) {
                log.debug("registry heartbeat after this runner was marked stopped; ignored");
            }
        } catch (RuntimeException e) {
            // also called from start and drain, which must go on: the loop tries again
            log.warn("registry heartbeat failed; this runner shows as stale after {} s if this persists: {}",
                    core.runnerStaleAfter().toSeconds(), e.toString());
        }
    }

    private void pruneRegistry() {
        try {
            int n = store.pruneRunners(clock.instant().minus(REGISTRY_ROW_TTL));
            if (n > 0) {
                log.info("pruned {} runner rows not heard of for {} h", n, REGISTRY_ROW_TTL.toHours());
            }
        } catch (RuntimeException e) {
            log.warn("pruning old runner rows failed: {}", e.toString());
        }
    }

    private static final String VERSION = version();

    private static String version() {
        String v = Runner.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /**
     * This host's name, looked up once per process: it is part of the runner's id, which does not change either,
     * and a lookup per job (the workspace copy's manifest names the host) was 3% of a no-op job's samples on
     * PostgreSQL.
     */
    static String hostname() {
        return Host.NAME;
    }

    private static final class Host {
        static final String NAME = lookUp();

        private static String lookUp() {
            try {
                return java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.net.UnknownHostException e) {
                return "localhost";
            }
        }
    }

    // ------------------------------------------------------------------ drain

    /**
     * Stops leasing, lets running jobs finish for up to {@code grace}, then kills the rest and
     * releases them back to the queue. Returns once every worker is done. Safe to call twice.
     */
    public void drain(Duration grace) {
        if (!draining.compareAndSet(false, true)) {
            awaitIdle(RELEASE_WAIT);
            return;
        }
        log.info("runner {} draining: {} jobs running, grace {} s", runnerId, running.size(), grace.toSeconds());
        leasing = false;
        signal();
        join(leaseThread);
        if (startedAt != null) {
            // at once, not at the next beat: /ready should stop counting a runner that takes no more jobs
            registryBeat();
        }
        if (!awaitIdle(grace)) {
            log.warn("drain grace over; killing and releasing {} jobs", running.size());
            running.values().forEach(j -> j.stop(RunningJob.Stop.DRAINING));
            if (!awaitIdle(RELEASE_WAIT)) {
                log.error("{} jobs did not stop within {} s; their leases will expire", running.size(), RELEASE_WAIT.toSeconds());
            }
        }
        heartbeatStop.countDown();
        join(heartbeatThread);
        join(fenceThread);
        backgroundStop.countDown();
        callbacksNap.poke(); // wakes the loops sleeping on them, which then see the drain
        deliveriesNap.poke();
        join(callbackThread);
        join(deliveryThread);
        join(retentionThread);
        join(orphanThread);
        join(registryThread);
        workers.shutdownNow();
        shipping.close();
        markStopped();
        log.info("runner {} drained", runnerId);
    }

    private void markStopped() {
        if (startedAt == null) {
            return;
        }
        try {
            store.runnerStopped(runnerId, startedAt);
        } catch (RuntimeException e) {
            log.warn("could not mark runner {} stopped; it shows as stale after {} s: {}", runnerId,
                    core.runnerStaleAfter().toSeconds(), e.toString());
        }
    }

    private boolean awaitIdle(Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        synchronized (wake) {
            while (!running.isEmpty()) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                try {
                    wake.wait(Math.min(left, 50));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return running.isEmpty();
                }
            }
        }
        return true;
    }

    private static void join(Thread t) {
        if (t == null) {
            return;
        }
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Drains with a short grace: running jobs are released to the queue, not lost. */
    @Override
    public void close() {
        drain(CLOSE_GRACE);
    }
}
