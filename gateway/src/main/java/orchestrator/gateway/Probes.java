package orchestrator.gateway;

import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.RunnerView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /health} (the process answers) and {@code /ready} (the store answers, and a live runner will
 * lease what is queued), both without auth.
 */
final class Probes {
    static final Duration READY_TIMEOUT = Duration.ofSeconds(2);
    /**
     * Below this much free space where the database lives, the gateway is not ready. The store's own probe
     * (an update that changes nothing) needs no new page, so it passes on a full disk while every enqueue
     * fails; a few free pages are what an enqueue needs.
     */
    static final long MIN_FREE_BYTES = 64 * 1024;
    /**
     * How long {@code /health} reuses its runner counts: it is the cheap probe that load balancers and
     * benchmarks hit thousands of times a second, and must not read the store each time.
     */
    static final Duration HEALTH_RUNNERS_CACHE = Duration.ofSeconds(1);
    private static final Logger log = LoggerFactory.getLogger(Probes.class);

    private final JobStore store;
    private final Clock clock;
    private final Instant started;
    private final String version;
    private final Duration runnerStaleAfter;
    private final boolean requireRunner;

    private final Path databaseDir;
    private final Object cacheLock = new Object();
    private Map<String, Integer> cachedCounts;
    private long cachedAtMillis;

    /**
     * @param runnerStaleAfter {@code RUNNER_STALE_SEC}
     * @param requireRunner    {@code READY_REQUIRES_RUNNER}
     */
    Probes(JobStore store, Clock clock, Path databaseFile, Duration runnerStaleAfter, boolean requireRunner) {
        this.store = store;
        this.databaseDir = databaseFile.toAbsolutePath().getParent();
        this.clock = clock;
        this.started = clock.instant();
        this.runnerStaleAfter = runnerStaleAfter;
        this.requireRunner = requireRunner;
        this.version = version();
    }

    /** The jar's version, or {@code dev} when run from classes. */
    static String version() {
        String v = GatewayServer.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    void health(Context ctx) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "ok");
        body.put("version", version);
        body.put("uptime_seconds", Math.max(0, Duration.between(started, clock.instant()).toSeconds()));
        body.put("runners", runnerCounts());
        ctx.status(200).contentType("application/json").result(Json.write(body));
    }

    /** Live, stale and stopped runners, read at most every {@link #HEALTH_RUNNERS_CACHE}; null when the store does not answer. */
    private Map<String, Integer> runnerCounts() {
        synchronized (cacheLock) {
            long now = clock.millis();
            if (cachedCounts == null || now - cachedAtMillis >= HEALTH_RUNNERS_CACHE.toMillis() || now < cachedAtMillis) {
                try {
                    cachedCounts = counts(store.runners(), clock.instant());
                } catch (RuntimeException e) {
                    // liveness must not depend on the store: the counts are left out, the answer is still 200
                    log.debug("health without runner counts: {}", e.toString());
                    return null;
                }
                cachedAtMillis = now;
            }
            return cachedCounts;
        }
    }

    private Map<String, Integer> counts(List<RunnerView> runners, Instant now) {
        Map<String, Integer> out = new LinkedHashMap<>();
        RunnerView.countByStatus(runners, now, runnerStaleAfter).forEach((s, n) -> out.put(s.wire(), n));
        return out;
    }

    void ready(Context ctx) {
        if (!store.ready(READY_TIMEOUT) || !diskHasRoom()) {
            throw new ApiError(503, "not_ready", "the job store does not answer").withHeader("Retry-After", "5");
        }
        if (requireRunner) {
            List<RunnerView> runners;
            try {
                runners = store.runners();
            } catch (RuntimeException e) {
                throw new ApiError(503, "not_ready", "the job store does not answer").withHeader("Retry-After", "5");
            }
            Instant now = clock.instant();
            if (runners.stream().noneMatch(r -> r.takesJobs(now, runnerStaleAfter))) {
                // the store is fine but queued jobs would sit there: not ready for work, whatever the HTTP side says
                throw new ApiError(503, "no_live_runner", "no runner that takes jobs has sent a heartbeat within RUNNER_STALE_SEC ("
                        + runnerStaleAfter.toSeconds() + " s): queued jobs will not start. Start one (orchestrator runner), "
                        + "or set READY_REQUIRES_RUNNER=0 if this gateway runs without runners on purpose")
                        .with("runners", counts(runners, now)).withHeader("Retry-After", "5");
            }
        }
        ctx.status(200).contentType("application/json").result(Json.write(Map.of("status", "ready")));
    }

    private boolean diskHasRoom() {
        try {
            long free = Files.getFileStore(databaseDir).getUsableSpace();
            if (free < MIN_FREE_BYTES) {
                log.warn("not ready: {} bytes free where the database lives ({})", free, databaseDir);
                return false;
            }
            return true;
        } catch (IOException e) {
            // no answer about space is no evidence of a full disk: the store's own probe decides
            log.debug("cannot read the free space of {}: {}", databaseDir, e.getMessage());
            return true;
        }
    }
}
