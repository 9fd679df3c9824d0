package orchestrator.gateway;

import io.javalin.Javalin;
import io.javalin.http.Context;
import java.time.Clock;
import java.util.Objects;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.job.JobSchema;
import orchestrator.core.store.JobStore;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.jobs.JobArtifacts;
import orchestrator.gateway.jobs.JobLogs;
import orchestrator.gateway.jobs.JobRoutes;
import orchestrator.gateway.metrics.Metrics;
import orchestrator.gateway.webhook.WebhookRoute;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP gateway of DESIGN §4: webhook intake, the job API, logs, artifacts, probes and metrics, on Javalin (Jetty 12).
 * It uses the store but does not own it: the caller closes the store after closing the server.
 */
public final class GatewayServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GatewayServer.class);

    private final GatewayConfig config;
    private final CoreConfig core;
    private final JobStore store;
    private final Clock clock;
    private Javalin app;
    private JobLogs logs;

    public GatewayServer(GatewayConfig config, CoreConfig core, JobStore store, Clock clock) {
        this.config = Objects.requireNonNull(config, "config");
        this.core = Objects.requireNonNull(core, "core");
        this.store = Objects.requireNonNull(store, "store");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Binds and starts serving.
     *
     * @return the bound port (the chosen one when {@code HTTP_PORT=0})
     */
    public synchronized int start() {
        if (app != null) {
            throw new IllegalStateException("the gateway is already started");
        }
        Admission admission = new Admission(config, clock);
        Metrics metrics = new Metrics(store, clock, admission, config.metricsToken());
        WebhookRoute webhook = new WebhookRoute(config, core, admission, store, metrics::webhook, clock);
        JobRoutes jobs = new JobRoutes(admission, store);
        logs = new JobLogs(admission, store, core.artifactsDir(), config.tokens().size());
        JobArtifacts artifacts = new JobArtifacts(admission, store, core.artifactsDir());
        Probes probes = new Probes(store, clock, core.databasePath());
        app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.startup.showOldJavalinVersionWarning = false;
            cfg.http.prefer405over404 = true;
            // the webhook reads its body itself with its own cap; this only guards ctx.body() elsewhere
            cfg.http.maxRequestSize = config.maxWebhookBodyBytes();
            cfg.jetty.host = config.host();
            cfg.jetty.port = config.port();
            cfg.jetty.modifyServer(server -> {
                server.setErrorHandler(new JsonErrorHandler());
                // bodies are read ahead without a thread and within a deadline, so slow senders cannot hold threads
                server.insertHandler(new BodyDeadline(config.maxWebhookBodyBytes(), admission::knows));
            });
            cfg.requestLogger.http(metrics::request);
            ErrorMapping.install(cfg.routes);
            cfg.routes.post("/webhook", webhook);
            cfg.routes.get("/schema/job.json", GatewayServer::schema);
            cfg.routes.get("/jobs", jobs::list);
            cfg.routes.get("/jobs/{id}", jobs::get);
            cfg.routes.get("/jobs/{id}/events", jobs::events);
            cfg.routes.post("/jobs/{id}/cancel", jobs::cancel);
            cfg.routes.post("/jobs/{id}/approve", jobs::approve);
            cfg.routes.post("/jobs/{id}/reject", jobs::reject);
            cfg.routes.post("/jobs/{id}/retry", jobs::retry);
            cfg.routes.post("/jobs/{id}/continue", jobs::continueJob);
            cfg.routes.get("/jobs/{id}/logs", logs::get);
            cfg.routes.get("/jobs/{id}/artifacts/<path>", artifacts::get);
            cfg.routes.get("/health", probes::health);
            cfg.routes.get("/ready", probes::ready);
            cfg.routes.get("/metrics", metrics::scrape);
        });
        app.start();
        int port = app.port();
        log.info("gateway listening on {}:{} with {} token(s){}", config.host(), port, config.tokens().size(),
                config.devMode() ? " (development token in " + config.devTokenFile() + ")" : "");
        return port;
    }

    /** The job payload's JSON Schema, public so that clients can validate before they send. */
    private static void schema(Context ctx) {
        ctx.status(200).contentType("application/schema+json").header("Cache-Control", "public, max-age=300")
                .result(JobSchema.text());
    }

    @Override
    public synchronized void close() {
        if (app != null) {
            // log followers poll; told first, they end within one poll instead of holding the stop up
            logs.close();
            app.stop();
            app = null;
            log.info("gateway stopped");
        }
    }
}
