package orchestrator.gateway;

import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.store.JobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code /health} (the process answers) and {@code /ready} (the store answers too), both without auth. */
final class Probes {
    static final Duration READY_TIMEOUT = Duration.ofSeconds(2);
    /**
     * Below this much free space where the database lives, the gateway is not ready. The store's own probe
     * (an update that changes nothing) needs no new page, so it passes on a full disk while every enqueue
     * fails; a few free pages are what an enqueue needs.
     */
    static final long MIN_FREE_BYTES = 64 * 1024;
    private static final Logger log = LoggerFactory.getLogger(Probes.class);

    private final JobStore store;
    private final Clock clock;
    private final Instant started;
    private final String version;

    private final Path databaseDir;

    Probes(JobStore store, Clock clock, Path databaseFile) {
        this.store = store;
        this.databaseDir = databaseFile.toAbsolutePath().getParent();
        this.clock = clock;
        this.started = clock.instant();
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
        ctx.status(200).contentType("application/json").result(Json.write(body));
    }

    void ready(Context ctx) {
        if (store.ready(READY_TIMEOUT) && diskHasRoom()) {
            ctx.status(200).contentType("application/json").result(Json.write(Map.of("status", "ready")));
        } else {
            throw new ApiError(503, "not_ready", "the job store does not answer").withHeader("Retry-After", "5");
        }
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
