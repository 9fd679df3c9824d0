package orchestrator.gateway;

import io.javalin.Javalin;
import io.javalin.http.Context;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.job.JobSchema;
import orchestrator.core.schedule.ScheduleControl;
import orchestrator.core.store.JobStore;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.jobs.JobArtifacts;
import orchestrator.gateway.jobs.JobLogs;
import orchestrator.gateway.jobs.JobRoutes;
import orchestrator.gateway.metrics.Metrics;
import orchestrator.gateway.runners.RunnerRoutes;
import orchestrator.gateway.schedules.ScheduleRoutes;
import orchestrator.gateway.ui.Dashboard;
import orchestrator.gateway.webhook.GitHubHook;
import orchestrator.gateway.webhook.SlackHook;
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
    private final ScheduleControl schedules;
    private final java.util.Optional<orchestrator.core.store.StoredFiles> storedFiles;
    private Javalin app;
    private JobLogs logs;
    private Dashboard dashboard;
    private Admission admission;
    private List<ApiRoute> routes = List.of();

    /** A gateway without schedules: {@code /schedules} answers 503. */
    public GatewayServer(GatewayConfig config, CoreConfig core, JobStore store, Clock clock) {
        this(config, core, store, clock, null);
    }

    /** @param schedules what {@code /schedules} lists and controls (the app wires the scheduler's), or null for none */
    public GatewayServer(GatewayConfig config, CoreConfig core, JobStore store, Clock clock, ScheduleControl schedules) {
        this(config, core, store, clock, schedules, java.util.Optional.empty());
    }

    /**
     * @param storedFiles the jobs' logs and artifacts as the store keeps them for every host (PostgreSQL): served
     *                    first, this host's folder for what they lack; empty (SQLite): this host's folder only
     */
    public GatewayServer(GatewayConfig config, CoreConfig core, JobStore store, Clock clock, ScheduleControl schedules,
                         java.util.Optional<orchestrator.core.store.StoredFiles> storedFiles) {
        this.storedFiles = Objects.requireNonNull(storedFiles, "storedFiles");
        this.schedules = schedules;
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
        admission = new Admission(config, clock);
        Metrics metrics = new Metrics(store, clock, admission, core.runnerStaleAfter());
        WebhookRoute webhook = new WebhookRoute(config, admission, store, metrics::webhook, clock);
        JobRoutes jobs = new JobRoutes(admission, store);
        logs = new JobLogs(admission, store, core.artifactsDir(), config.tokens().size(), storedFiles);
        JobArtifacts artifacts = new JobArtifacts(admission, store, core.artifactsDir(), storedFiles);
        ScheduleRoutes scheduleRoutes = new ScheduleRoutes(admission, schedules);
        Probes probes = new Probes(store, clock, core.databasePath(), core.runnerStaleAfter(), config.readyRequiresRunner());
        RunnerRoutes runners = new RunnerRoutes(admission, store, clock, core.runnerStaleAfter());
        GitHubHook github = new GitHubHook(config, admission, store,
                (event, outcome, status) -> metrics.hook("github", event, outcome, status), clock);
        SlackHook slack = new SlackHook(config, admission, store,
                (event, outcome, status) -> metrics.hook("slack", event, outcome, status), clock);
        routes = routes(webhook, jobs, logs, artifacts, probes, metrics, runners, scheduleRoutes, github, slack);
        if (config.uiEnabled()) {
            List<ApiRoute> all = new java.util.ArrayList<>(routes);
            dashboard = new Dashboard(new Dashboard.Parts(admission, store, clock, core.runnerStaleAfter(), jobs,
                    scheduleRoutes, schedules != null, logs, artifacts));
            all.addAll(dashboard(dashboard));
            routes = List.copyOf(all);
        }
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
            for (ApiRoute r : routes) {
                cfg.routes.addEndpoint(new io.javalin.router.Endpoint(r.method(), r.path(), r.handler()));
            }
        });
        app.start();
        int port = app.port();
        log.info("gateway listening on {}:{} with {} token(s){}", config.host(), port, config.tokens().size(),
                config.devMode() ? " (development token in " + config.devTokenFile() + ")" : "");
        return port;
    }

    /**
     * SIGHUP: swaps in new tokens and scopes, signing secrets, projects, rate limits, trusted proxies and
     * the metrics token, all at once; requests in flight finish under the old ones. The bind address and the
     * body cap are the listening socket's and Jetty's: they change only with a restart, which is said.
     */
    public synchronized void reload(GatewayConfig next) {
        if (admission == null) {
            throw new IllegalStateException("the gateway is not started");
        }
        GatewayConfig old = admission.config();
        if (!old.host().equals(next.host()) || old.port() != next.port() || old.maxWebhookBodyBytes() != next.maxWebhookBodyBytes()) {
            log.warn("HTTP_HOST, HTTP_PORT and MAX_WEBHOOK_BODY_BYTES change only with a restart; keeping {}:{} and {} bytes",
                    old.host(), old.port(), old.maxWebhookBodyBytes());
        }
        admission.reload(next);
        log.info("gateway reloaded its configuration: {} token(s), projects {}", next.tokens().size(), new java.util.TreeSet<>(next.projects()));
    }

    /**
     * Every route, each declared once with what the OpenAPI document says of it. A route added to Javalin any
     * other way is not documented, and OpenApiTest fails.
     */
    private static List<ApiRoute> routes(WebhookRoute webhook, JobRoutes jobs, JobLogs logs, JobArtifacts artifacts,
                                         Probes probes, Metrics metrics, RunnerRoutes runners, ScheduleRoutes schedules,
                                         GitHubHook github, SlackHook slack) {
        Map<String, Object> string = Map.of("type", "string");
        String id = "the job id";
        List<ApiRoute> api = new java.util.ArrayList<>(List.of(
                ApiRoute.post("/webhook", webhook).summary("Submit a job")
                        .description("The job is committed before the answer. A repeated (project, idempotency_key) "
                                + "answers 200 with the first job. Order of checks: 401, 403, 429, 413, 415, 400, 403 (project scope).")
                        .auth(ApiRoute.Auth.TOKEN)
                        .body(ApiRoute.ref("JobPayload"), "{\"goal\": \"Fix the failing test in tests/test_parser.py\"}", true)
                        .json(202, "queued (or awaiting approval)", ApiRoute.ref("Accepted"))
                        .json(200, "the job already submitted with this idempotency key", ApiRoute.ref("Accepted"))
                        .error(400, "invalid JSON or payload (`field` names it), or an unknown project_id")
                        .error(403, "unknown token, or a token not scoped to the project")
                        .error(413, "body over MAX_WEBHOOK_BODY_BYTES")
                        .error(415, "not application/json (a JSON body sent as application/x-www-form-urlencoded, as curl -d does, is read as JSON)")
                        .storeErrors().build(),
                ApiRoute.post("/hooks/github/{project}", github).tag("integrations").summary("A GitHub webhook delivery")
                        .description("Signed with X-Hub-Signature-256 by one of the project's secrets (GITHUB_WEBHOOK_SECRET, "
                                + "INTEGRATIONS_FILE). issue_comment with a trigger, issues labeled, pull_request, workflow_run "
                                + "failed and push become jobs by the project's rule; a trigger comment on a pull request the "
                                + "orchestrator opened continues its job. Every other event is 204. A redelivery answers 200 with "
                                + "the first job. See docs/INTEGRATIONS.md.")
                        .auth(ApiRoute.Auth.NONE).pathParam("project", "the project alias (PROJECT_ALIASES)")
                        .body(Map.of("type", "object"), "{\"action\": \"created\", \"comment\": {\"body\": \"/agent fix it\"}}", true)
                        .json(202, "a job was queued (or a job continued)", ApiRoute.ref("Accepted"))
                        .json(200, "a redelivery (the first job), a ping, or a refusal of an author outside the allowed associations",
                                Map.of("type", "object"))
                        .answer(204, "an event or action that starts nothing (logged)", null)
                        .error(401, "no secret configured (or no such project), no signature, or a signature no secret of the project produced")
                        .error(409, "a continuation of a job that is queued or running")
                        .error(413, "body over MAX_WEBHOOK_BODY_BYTES")
                        .error(415, "neither JSON nor a form with payload=")
                        .storeErrors().build(),
                ApiRoute.post("/hooks/slack", slack).tag("integrations").summary("A Slack slash command")
                        .description("application/x-www-form-urlencoded, signed with X-Slack-Signature v0 by SLACK_SIGNING_SECRET and "
                                + "X-Slack-Request-Timestamp within 5 minutes. Answers an ephemeral message naming the job.")
                        .auth(ApiRoute.Auth.NONE)
                        .body("application/x-www-form-urlencoded", Map.of("type", "object"),
                                "command=%2Fagent&text=fix+the+flaky+test&channel_id=C1&user_id=U1", true)
                        .json(200, "an ephemeral Slack message: the queued job, or what to fix", Map.of("type", "object"))
                        .error(401, "SLACK_SIGNING_SECRET unset, a bad signature, or a stale timestamp")
                        .error(413, "body over MAX_WEBHOOK_BODY_BYTES")
                        .error(415, "not application/x-www-form-urlencoded")
                        .storeErrors().build(),
                ApiRoute.get("/jobs", jobs::list).summary("List jobs, newest first")
                        .description("Keyset paging: pass the answer's next_cursor as cursor (with the same filters) for "
                                + "the next page; next_cursor is null on the last page. A scoped token lists only its projects.")
                        .auth(ApiRoute.Auth.SCOPED)
                        .query("project", "only this project (403 if the token may not see it)", string)
                        .query("state", "only jobs in this state", ApiRoute.ref("State"))
                        .query("tag", "only jobs with this tag", string)
                        .query("agent", "only jobs with a step that runs this agent", string)
                        .query("q", "only jobs whose goal contains this text, ignoring ASCII case", string)
                        .query("source", "only jobs from this source", Map.of("type", "string", "enum", List.of("webhook", "cron", "cli", "api")))
                        .query("created_after", "only jobs created at or after this ISO-8601 instant", Map.of("type", "string", "format", "date-time"))
                        .query("created_before", "only jobs created before this ISO-8601 instant", Map.of("type", "string", "format", "date-time"))
                        .query("limit", "page size, default " + JobRoutes.DEFAULT_LIMIT,
                                Map.of("type", "integer", "minimum", 1, "maximum", orchestrator.core.store.JobQuery.MAX_LIMIT))
                        .query("cursor", "next_cursor of the previous page", string)
                        .json(200, "one page of jobs", ApiRoute.ref("JobList"))
                        .error(400, "a bad query parameter; `field` names it")
                        .error(403, "unknown token, or a project the token may not see")
                        .storeErrors().build(),
                ApiRoute.get("/jobs/{id}", jobs::get).summary("A job, its steps and its callback")
                        .auth(ApiRoute.Auth.SCOPED).pathParam("id", id)
                        .json(200, "the job", ApiRoute.ref("JobWithCallback"))
                        .error(404, "no such job, or one of a project the token cannot see")
                        .storeErrors().build(),
                ApiRoute.get("/jobs/{id}/events", jobs::events).summary("The job's audit trail, oldest first")
                        .auth(ApiRoute.Auth.SCOPED).pathParam("id", id)
                        .json(200, "every transition and recorded action", ApiRoute.ref("EventList"))
                        .error(404, "no such job, or one of a project the token cannot see")
                        .storeErrors().build(),
                action("/jobs/{id}/cancel", jobs::cancel, "Cancel a job (a running one is killed at its next heartbeat)"),
                action("/jobs/{id}/approve", jobs::approve, "Approve a job awaiting approval or a human"),
                action("/jobs/{id}/reject", jobs::reject, "Reject a job awaiting approval"),
                action("/jobs/{id}/retry", jobs::retry, "Run a finished job again from the start"),
                ApiRoute.post("/jobs/{id}/continue", jobs::continueJob).summary("Continue a finished job in its workspace")
                        .description("Adds a step after the last one that ran, resuming that agent's session.")
                        .auth(ApiRoute.Auth.SCOPED).pathParam("id", id)
                        .body(ApiRoute.ref("ContinueRequest"), "{\"prompt\": \"Now add a test for it.\"}", true)
                        .json(200, "queued with the added step", ApiRoute.ref("ActionResult"))
                        .error(400, "no prompt; `field` names it")
                        .error(404, "no such job, or one of a project the token cannot see")
                        .error(409, "the job is queued, running or awaiting approval")
                        .storeErrors().build(),
                ApiRoute.get("/jobs/{id}/logs", logs::get).summary("The job's step logs")
                        .description("`?follow=1` streams them as server-sent events until the job ends.")
                        .auth(ApiRoute.Auth.SCOPED).pathParam("id", id)
                        .query("follow", "1 to stream (text/event-stream)", Map.of("type", "string", "enum", List.of("0", "1", "true", "false")))
                        .answer(200, "the logs (text/plain), or an event stream with follow=1", "text/plain")
                        .error(403, "unknown token, or a log file that is a planted link")
                        .error(404, "no such job, or one of a project the token cannot see")
                        .error(429, "rate limited, or this token holds its share of log streams")
                        .error(503, "the store is unavailable, or every log stream slot is taken").build(),
                ApiRoute.get("/jobs/{id}/artifacts", artifacts::list).summary("The job's artifact files")
                        .description("Every file of the job's artifact folder (on PostgreSQL, as the store keeps them for every "
                                + "host), by path; at most 1000.")
                        .auth(ApiRoute.Auth.SCOPED).pathParam("id", id)
                        .json(200, "the files", Map.of("type", "object", "required", List.of("job_id", "artifacts"), "properties", Map.of(
                                "job_id", string,
                                "artifacts", Map.of("type", "array", "items", Map.of("type", "object",
                                        "required", List.of("path", "size", "modified_at"), "properties", Map.of(
                                                "path", string, "size", Map.of("type", "integer"),
                                                "modified_at", Map.of("type", "string", "format", "date-time")))))))
                        .error(404, "no such job, or one of a project the token cannot see")
                        .storeErrors().build(),
                ApiRoute.get("/jobs/{id}/artifacts/<path>", artifacts::get).summary("A file of the job's artifacts")
                        .description("e.g. result.json, report.md, patch.diff, steps/01_plan/logs.txt; never a file outside the job's folder.")
                        .auth(ApiRoute.Auth.SCOPED).pathParam("id", id).pathParam("path", "the file's path inside the artifact folder")
                        .answer(200, "the file", "application/octet-stream")
                        .error(403, "unknown token, or a file that is a planted link")
                        .error(404, "no such job or file")
                        .storeErrors().build(),
                ApiRoute.get("/schema/job.json", GatewayServer::schema).tag("api").summary("The job payload's JSON Schema")
                        .auth(ApiRoute.Auth.NONE).answer(200, "JSON Schema 2020-12", "application/schema+json", Map.of("type", "object")).build(),
                ApiRoute.get("/runners", runners::list).tag("operations").summary("Registered runners and whether they are live")
                        .description("Job ids of running jobs are listed for unscoped tokens only.")
                        .auth(ApiRoute.Auth.TOKEN).json(200, "every registered runner", ApiRoute.ref("RunnerList"))
                        .storeErrors().build(),
                ApiRoute.get("/schedules", schedules::list).tag("schedules").summary("Schedules with next fire times, pause and last fires")
                        .description("Every schedule file of SCHEDULES_DIR, broken ones too (with `error`), sorted by file name. "
                                + "A paused schedule records its fire times as skipped until it is resumed.")
                        .auth(ApiRoute.Auth.TOKEN).json(200, "every schedule", ApiRoute.ref("ScheduleList"))
                        .error(503, "the store is unavailable, or this gateway was started without schedules (`schedules_unavailable`)")
                        .build(),
                scheduleAction("/schedules/{id}/pause", schedules::pause, "Pause a schedule in every scheduler process",
                        "Kept in the store: it holds across restarts. `changed` is false when it was already paused."),
                scheduleAction("/schedules/{id}/resume", schedules::resume, "Resume a paused schedule",
                        "No burst of the skipped fires: only misfire run_once or catch_up makes up for them, with one fire at the "
                                + "resume. `changed` is false when it was not paused."),
                scheduleAction("/schedules/{id}/run", schedules::run, "Fire a schedule once now",
                        "As `orchestrator schedules run ID`: whether enabled, paused or due; overlap=skip_if_running still applies. "
                                + "`outcome` is enqueued (with `job_id`), skipped_overlap or already_fired (a fire in the same second)."),
                ApiRoute.get("/health", probes::health).tag("operations").summary("Liveness")
                        .auth(ApiRoute.Auth.NONE).json(200, "the process answers", ApiRoute.ref("Health")).build(),
                ApiRoute.get("/ready", probes::ready).tag("operations").summary("Readiness: the store answers a read and a write")
                        .auth(ApiRoute.Auth.NONE).json(200, "ready", ApiRoute.ref("Ready"))
                        .error(503, "the store does not answer, its disk is full, or no live runner takes jobs "
                                + "(`no_live_runner`; READY_REQUIRES_RUNNER=0 for a gateway without runners)").build(),
                ApiRoute.get("/metrics", metrics::scrape).tag("operations").summary("Prometheus metrics")
                        .auth(ApiRoute.Auth.METRICS)
                        .answer(200, "Prometheus text format", "text/plain")
                        .error(401, "a malformed `Authorization` header")
                        .error(403, "not loopback and no valid METRICS_TOKEN").build()));
        SwaggerUi ui = new SwaggerUi();
        api.add(ApiRoute.get("/docs", ui::page).tag("api").summary("Swagger UI for this document")
                .auth(ApiRoute.Auth.NONE).answer(200, "an HTML page", "text/html").build());
        api.add(ApiRoute.get("/docs/{file}", ui::asset).tag("api").summary("A file of Swagger UI (served from its WebJar)")
                .auth(ApiRoute.Auth.NONE).pathParam("file", "e.g. swagger-ui-bundle.js")
                .answer(200, "the file", "application/octet-stream").error(404, "no such file").build());
        OpenApiDocument[] doc = new OpenApiDocument[1];
        api.add(ApiRoute.get("/openapi.json", ctx -> doc[0].serve(ctx)).tag("api").summary("This document (OpenAPI 3.1)")
                .auth(ApiRoute.Auth.NONE).json(200, "the OpenAPI document", Map.of("type", "object")).build());
        // built last, from the list that includes its own route
        doc[0] = new OpenApiDocument(api, Probes.version());
        return List.copyOf(api);
    }

    /**
     * The dashboard's routes (UI_ENABLED): declared here like every route, but with {@link ApiRoute.Auth#SESSION},
     * which keeps them out of the OpenAPI document: they are pages for a browser, not API.
     */
    private static List<ApiRoute> dashboard(Dashboard ui) {
        List<ApiRoute> r = new java.util.ArrayList<>();
        r.add(page(ApiRoute.get("/ui", ui.page(ui::overview)), "Dashboard: overview"));
        r.add(page(ApiRoute.get("/ui/login", ui.page(ui::loginPage)), "Dashboard: sign-in form"));
        r.add(page(ApiRoute.post("/ui/login", ui.page(ui::login)), "Dashboard: sign in with a token (form: token, _csrf)"));
        r.add(page(ApiRoute.post("/ui/logout", ui.page(ui::logout)), "Dashboard: sign out"));
        r.add(page(ApiRoute.get("/ui/jobs", ui.page(ui::jobs)), "Dashboard: jobs"));
        r.add(page(ApiRoute.get("/ui/jobs/{id}", ui.page(ui::job)), "Dashboard: a job"));
        for (String action : List.of("cancel", "retry", "approve", "reject", "continue")) {
            r.add(page(ApiRoute.post("/ui/jobs/{id}/" + action, ui.jobAction(action)), "Dashboard: " + action + " a job"));
        }
        r.add(page(ApiRoute.get("/ui/jobs/{id}/logs", ui.page(ui::logs)), "Dashboard: a job's log stream"));
        r.add(page(ApiRoute.get("/ui/jobs/{id}/artifacts/<path>", ui.page(ui::artifact)), "Dashboard: a job's artifact"));
        r.add(page(ApiRoute.get("/ui/schedules", ui.page(ui::schedules)), "Dashboard: schedules"));
        for (String action : List.of("pause", "resume", "run")) {
            r.add(page(ApiRoute.post("/ui/schedules/{id}/" + action, ui.scheduleAction(action)), "Dashboard: " + action + " a schedule"));
        }
        r.add(page(ApiRoute.get("/ui/runners", ui.page(ui::runners)), "Dashboard: runners"));
        r.add(page(ApiRoute.get("/ui/assets/{file}", ui.page(ui::asset)), "Dashboard: its script, style, htmx and uPlot"));
        return r;
    }

    private static ApiRoute page(ApiRoute.Builder b, String summary) {
        return b.tag("dashboard").summary(summary).auth(ApiRoute.Auth.SESSION).answer(200, "an HTML page", "text/html").build();
    }

    /** An operator's action on a schedule, for a token that may act on the schedule's project. */
    private static ApiRoute scheduleAction(String path, io.javalin.http.Handler h, String summary, String description) {
        return ApiRoute.post(path, h).tag("schedules").summary(summary).description(description)
                .auth(ApiRoute.Auth.TOKEN).pathParam("id", "the schedule id")
                .json(200, "done (or nothing to do: `changed` false); the schedule after it", ApiRoute.ref("ScheduleActionResult"))
                .error(403, "the token may not act on the schedule's project (a schedule without a project needs a `*` token)")
                .error(404, "no schedule file has this id")
                .error(409, "the schedule's file is broken (`schedule_broken`), so it cannot run")
                .error(503, "the store is unavailable, or this gateway was started without schedules (`schedules_unavailable`)")
                .build();
    }

    /** A state change: 200 with the new state, 409 when the state does not allow it. */
    private static ApiRoute action(String path, io.javalin.http.Handler h, String summary) {
        return ApiRoute.post(path, h).summary(summary).auth(ApiRoute.Auth.SCOPED).pathParam("id", "the job id")
                .json(200, "done: the job's new state", ApiRoute.ref("ActionResult"))
                .error(404, "no such job, or one of a project the token cannot see")
                .error(409, "the job's state does not allow it; `status` is the state")
                .storeErrors().build();
    }

    /** The routes this server declared (empty before {@link #start}), for the tests. */
    List<ApiRoute> routes() {
        return routes;
    }

    /** What Javalin actually routes, as "METHOD path", read from its router rather than from {@link #routes()}. */
    synchronized List<String> servedRoutes() {
        return app.unsafe.internalRouter.allHttpHandlers().stream()
                .map(e -> e.endpoint.method.name() + " " + e.endpoint.path).toList();
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
            if (dashboard != null) {
                dashboard.close();
                dashboard = null;
            }
            app.stop();
            app = null;
            log.info("gateway stopped");
        }
    }
}
