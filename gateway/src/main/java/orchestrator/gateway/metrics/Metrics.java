package orchestrator.gateway.metrics;

import io.javalin.http.Context;
import io.javalin.router.Endpoint;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.RunnerView;
import orchestrator.core.store.StoreStats;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} in the Prometheus text format 0.0.4. Request metrics are Micrometer meters recorded as
 * requests end; the job, step, duration and lease series come from the store (the runner may be another
 * process, so the store is the only place that knows them) and are cached for {@link #STORE_CACHE} so that
 * frequent scrapes do not scan the tables each time.
 *
 * <p>Labels hold only route templates, methods from a fixed list, status codes, states, and the project and
 * agent names of the operator's configuration: never a token, a raw path or anything a client chose.
 */
public final class Metrics {
    static final Duration STORE_CACHE = Duration.ofSeconds(5);
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS");
    private static final Pattern BEARER = Pattern.compile("(?i)^bearer\\s+(\\S+)\\s*$");
    private static final Logger log = LoggerFactory.getLogger(Metrics.class);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /** Meters by route, method and status (and webhook answers by status), each built once. */
    private final java.util.concurrent.ConcurrentMap<String, Timer> timers = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.ConcurrentMap<Integer, Counter> webhookCounters = new java.util.concurrent.ConcurrentHashMap<>();
    private final JobStore store;
    private final Duration runnerStaleAfter;
    private final Clock clock;
    private final Admission admission;
    private final Object cacheLock = new Object();
    private String cachedStoreText;
    private long cachedAtMillis;

    /**
     * {@code METRICS_TOKEN} comes from the admission's current settings, so a reload changes it too.
     *
     * @param runnerStaleAfter {@code RUNNER_STALE_SEC}: when a registered runner counts as stale
     */
    public Metrics(JobStore store, Clock clock, Admission admission, Duration runnerStaleAfter) {
        this.store = store;
        this.runnerStaleAfter = runnerStaleAfter;
        this.clock = clock;
        this.admission = admission;
    }

    /** Records one finished request; called by Javalin's request logger, after the status is final. */
    public void request(Context ctx, float millis) {
        String method = ctx.method().name().toUpperCase(Locale.ROOT);
        String m = METHODS.contains(method) ? method : "other";
        String route = route(ctx);
        int status = ctx.statusCode();
        // a meter per route, method and status, built once: building and registering one per request
        // was a percent of a busy gateway's CPU
        Timer timer = timers.computeIfAbsent(route + ' ' + m + ' ' + status, k -> Timer.builder("orchestrator.http.requests")
                .description("HTTP requests by route template, method and status")
                .tag("route", route)
                .tag("method", m)
                .tag("status", Integer.toString(status))
                .serviceLevelObjectives(Duration.ofMillis(5), Duration.ofMillis(25), Duration.ofMillis(100),
                        Duration.ofMillis(250), Duration.ofMillis(1000), Duration.ofSeconds(5), Duration.ofSeconds(30))
                .register(registry));
        timer.record((long) (millis * 1000), TimeUnit.MICROSECONDS);
    }

    /** Counts one answer of {@code POST /webhook} by status. */
    public void webhook(int status) {
        webhookCounters.computeIfAbsent(status, s -> Counter.builder("orchestrator.webhook.requests").description("webhook answers by status")
                .tag("status", Integer.toString(s)).register(registry)).increment();
    }

    /**
     * Counts one answer of a provider hook ({@code github}, {@code slack}) by status, and for a verified GitHub
     * delivery what became of it: {@code job}, {@code continued}, {@code refused}, {@code ignored}, {@code ping}.
     * The event is one of the events the rules know, else {@code other}, so a sender cannot grow the series.
     */
    public void hook(String provider, String event, String outcome, int status) {
        String e = event == null ? "none" : HOOK_EVENTS.contains(event) ? event : "other";
        Counter.builder("orchestrator.hook.requests").description("GitHub and Slack hook answers by provider, event, outcome and status")
                .tag("provider", provider).tag("event", e).tag("outcome", outcome == null ? "error" : outcome)
                .tag("status", Integer.toString(status)).register(registry).increment();
    }

    private static final java.util.Set<String> HOOK_EVENTS = java.util.Set.of("ping", "issue_comment", "issues", "pull_request",
            "workflow_run", "push", "command");

    private static String route(Context ctx) {
        try {
            Endpoint e = ctx.endpoints().matchedHttpEndpoint();
            return e == null ? "unmatched" : e.path;
        } catch (RuntimeException e) {
            return "unmatched";
        }
    }

    public void scrape(Context ctx) {
        admission.checkFailures(ctx);
        if (!allowed(ctx)) {
            throw new ApiError(403, "forbidden", "metrics are served to loopback clients or with METRICS_TOKEN");
        }
        ctx.status(200).contentType(CONTENT_TYPE).result(registry.scrape() + storeText());
    }

    /**
     * Loopback peers without {@code X-Forwarded-For}: nginx on the same host adds that header, so a request it
     * proxied from the internet is not mistaken for a local one. Anyone else needs the metrics token.
     */
    private boolean allowed(Context ctx) {
        String header = ctx.header("Authorization");
        String metricsToken = admission.config().metricsToken();
        byte[] tokenDigest = metricsToken == null ? null : sha256(metricsToken);
        if (header != null && tokenDigest != null) {
            var m = BEARER.matcher(header);
            if (m.matches() && MessageDigest.isEqual(tokenDigest, sha256(m.group(1)))) {
                return true;
            }
            admission.failed(ctx);
            return false;
        }
        return ctx.req().getHeader("X-Forwarded-For") == null && loopback(ctx.req().getRemoteAddr());
    }

    private static boolean loopback(String peer) {
        if (peer == null) {
            return false;
        }
        String p = peer.startsWith("[") && peer.endsWith("]") ? peer.substring(1, peer.length() - 1) : peer;
        // only IP literals reach here (the socket's peer); the check keeps InetAddress from ever resolving a name
        if (!p.matches("[0-9a-fA-F:.]+")) {
            return false;
        }
        try {
            return InetAddress.getByName(p).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private String storeText() {
        synchronized (cacheLock) {
            long now = clock.millis();
            if (cachedStoreText == null || now - cachedAtMillis >= STORE_CACHE.toMillis() || now < cachedAtMillis) {
                cachedStoreText = render();
                cachedAtMillis = now;
            }
            return cachedStoreText;
        }
    }

    private String render() {
        StoreStats s;
        List<RunnerView> runners;
        try {
            s = store.stats();
            runners = store.runners();
        } catch (StoreUnavailableException e) {
            log.warn("metrics without store series: {}", e.getMessage());
            return "# HELP orchestrator_store_up Whether the job store answered the last metrics query.\n"
                    + "# TYPE orchestrator_store_up gauge\norchestrator_store_up 0\n";
        }
        StringBuilder b = new StringBuilder();
        header(b, "orchestrator_store_up", "gauge", "Whether the job store answered the last metrics query.");
        b.append("orchestrator_store_up 1\n");

        header(b, "orchestrator_jobs", "gauge", "Jobs by state (queue depth), every state present.");
        for (Map.Entry<JobState, Long> e : s.byState().entrySet()) {
            b.append("orchestrator_jobs{state=\"").append(e.getKey().wire()).append("\"} ").append(e.getValue()).append('\n');
        }

        header(b, "orchestrator_jobs_by_project", "gauge", "Jobs by state (final states are outcomes) and project.");
        for (StoreStats.JobCount c : s.jobs()) {
            b.append("orchestrator_jobs_by_project{project=\"").append(esc(c.project())).append("\",state=\"")
                    .append(c.state().wire()).append("\"} ").append(c.count()).append('\n');
        }

        header(b, "orchestrator_steps", "gauge", "Steps by project, agent and status.");
        for (StoreStats.StepCount c : s.steps()) {
            b.append("orchestrator_steps").append(stepLabels(c)).append(",status=\"").append(esc(c.status())).append("\"} ")
                    .append(c.count()).append('\n');
        }

        Map<String, double[]> usage = new TreeMap<>();
        for (StoreStats.StepCount c : s.steps()) {
            double[] u = usage.computeIfAbsent(stepLabels(c), k -> new double[3]);
            u[0] += c.costUsd();
            u[1] += c.tokensIn();
            u[2] += c.tokensOut();
        }
        header(b, "orchestrator_agent_cost_usd", "gauge", "Agent cost of the steps in the store, by project and agent.");
        usage.forEach((labels, u) -> b.append("orchestrator_agent_cost_usd").append(labels).append("} ").append(u[0]).append('\n'));
        header(b, "orchestrator_agent_tokens", "gauge", "Agent tokens of the steps in the store, by project, agent and direction.");
        usage.forEach((labels, u) -> {
            b.append("orchestrator_agent_tokens").append(labels).append(",direction=\"in\"} ").append((long) u[1]).append('\n');
            b.append("orchestrator_agent_tokens").append(labels).append(",direction=\"out\"} ").append((long) u[2]).append('\n');
        });

        header(b, "orchestrator_job_duration_seconds", "histogram", "Run time of finished jobs, from start to finish.");
        List<Long> bounds = StoreStats.DURATION_BUCKETS_SEC;
        for (int i = 0; i < bounds.size(); i++) {
            b.append("orchestrator_job_duration_seconds_bucket{le=\"").append(bounds.get(i)).append(".0\"} ")
                    .append(s.durations().cumulative().get(i)).append('\n');
        }
        b.append("orchestrator_job_duration_seconds_bucket{le=\"+Inf\"} ").append(s.durations().count()).append('\n');
        b.append("orchestrator_job_duration_seconds_count ").append(s.durations().count()).append('\n');
        b.append("orchestrator_job_duration_seconds_sum ").append(s.durations().sumSeconds()).append('\n');

        header(b, "orchestrator_leases_lost_total", "counter", "Leases that expired without a heartbeat.");
        b.append("orchestrator_leases_lost_total ").append(s.leasesLost()).append('\n');

        Instant now = clock.instant();
        header(b, "orchestrator_runners", "gauge", "Registered runners by status (live: heartbeat within RUNNER_STALE_SEC).");
        RunnerView.countByStatus(runners, now, runnerStaleAfter).forEach((st, n) ->
                b.append("orchestrator_runners{state=\"").append(st.wire()).append("\"} ").append(n).append('\n'));
        int slots = 0;
        int busy = 0;
        for (RunnerView r : runners) {
            if (r.takesJobs(now, runnerStaleAfter)) {
                slots += r.slots();
                busy += r.runningJobs().size();
            }
        }
        header(b, "orchestrator_runner_slots", "gauge", "Job slots of live runners that take jobs, and how many of them are busy.");
        b.append("orchestrator_runner_slots{state=\"total\"} ").append(slots).append('\n');
        b.append("orchestrator_runner_slots{state=\"busy\"} ").append(busy).append('\n');

        clockSkews(b, runners, now, runnerStaleAfter);
        return b.toString();
    }

    /**
     * PostgreSQL only (SQLite's processes share one clock): per host, the live runner's clock farthest from the
     * server's at its last heartbeat. Alert on its absolute value; nothing is written when no runner has one.
     */
    static void clockSkews(StringBuilder b, List<RunnerView> runners, Instant now, Duration staleAfter) {
        Map<String, Long> skews = new TreeMap<>();
        for (RunnerView r : runners) {
            if (r.clockSkewMs() != null && r.status(now, staleAfter) == RunnerView.Status.LIVE) {
                skews.merge(r.host(), r.clockSkewMs(), (x, y) -> Math.abs(x) >= Math.abs(y) ? x : y);
            }
        }
        if (skews.isEmpty()) {
            return;
        }
        header(b, "orchestrator_runner_clock_skew_seconds", "gauge",
                "How far a runner host's clock was ahead of the PostgreSQL server's (negative: behind) at its last heartbeat.");
        skews.forEach((host, ms) -> b.append("orchestrator_runner_clock_skew_seconds{host=\"").append(esc(host)).append("\"} ")
                .append(ms / 1000.0).append('\n'));
    }

    private static String stepLabels(StoreStats.StepCount c) {
        return "{project=\"" + esc(c.project()) + "\",agent=\"" + esc(c.agent()) + "\"";
    }

    private static void header(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static String esc(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
