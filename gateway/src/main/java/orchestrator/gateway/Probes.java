package orchestrator.gateway;

import io.javalin.http.Context;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.store.JobStore;

/** {@code /health} (the process answers) and {@code /ready} (the store answers too), both without auth. */
final class Probes {
    static final Duration READY_TIMEOUT = Duration.ofSeconds(2);

    private final JobStore store;
    private final Clock clock;
    private final Instant started;
    private final String version;

    Probes(JobStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
        this.started = clock.instant();
        String v = GatewayServer.class.getPackage().getImplementationVersion();
        this.version = v == null ? "dev" : v;
    }

    void health(Context ctx) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "ok");
        body.put("version", version);
        body.put("uptime_seconds", Math.max(0, Duration.between(started, clock.instant()).toSeconds()));
        ctx.status(200).contentType("application/json").result(Json.write(body));
    }

    void ready(Context ctx) {
        if (store.ready(READY_TIMEOUT)) {
            ctx.status(200).contentType("application/json").result(Json.write(Map.of("status", "ready")));
        } else {
            throw new ApiError(503, "not_ready", "the job store does not answer").withHeader("Retry-After", "5");
        }
    }
}
