package orchestrator.gateway.ui;

import static orchestrator.gateway.ui.Html.esc;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.job.Step;
import orchestrator.core.schedule.ScheduleStatus;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobPage;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.RunnerView;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.StepRecord;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;
import orchestrator.gateway.jobs.Cursor;
import orchestrator.gateway.jobs.JobArtifacts;
import orchestrator.gateway.jobs.JobLogs;
import orchestrator.gateway.jobs.JobRoutes;
import orchestrator.gateway.schedules.ScheduleRoutes;
import org.commonmark.parser.Parser;
import org.commonmark.renderer.html.HtmlRenderer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard at {@code /ui}: server-rendered pages over the same code paths as the JSON API (scope, read-only
 * tokens, actions, logs, artifacts, audit actor), signed in with an API token that becomes a session cookie.
 * The live parts poll their own page with htmx (the overview, the jobs table, a job's state) and follow a job's
 * log with the API's server-sent event stream; every poll is one keyset page or the shared, cached counts of
 * {@link DashboardStats}, never a pass over the jobs per client.
 */
public final class Dashboard {
    static final String SESSION_COOKIE = "orch_ui";
    static final String LOGIN_COOKIE = "orch_ui_login";
    /**
     * No inline script or style anywhere: scripts and styles are files of this server. {@code img-src data:} is for
     * uPlot's canvas export only; {@code form-action 'self'} keeps a planted form from posting elsewhere.
     */
    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    static final int PAGE_SIZE = 50;
    /** report.md and patch.diff are shown up to this size; the whole file is a download link away. */
    static final int MAX_SHOWN_BYTES = 512 * 1024;
    private static final Logger log = LoggerFactory.getLogger(Dashboard.class);

    /** What the gateway hands over: its routes' objects, so the dashboard calls them rather than copies them. */
    public record Parts(Admission admission, JobStore store, Clock clock, Duration runnerStaleAfter, JobRoutes jobs,
                        ScheduleRoutes schedules, boolean hasSchedules, JobLogs logs, JobArtifacts artifacts) {
    }

    private record Who(UiSessions.Session session, ApiToken token) {
    }

    private final Parts p;
    private final UiSessions sessions;
    private final DashboardStats stats;
    private final UiAssets assets = new UiAssets();
    private static final List<org.commonmark.Extension> MARKDOWN = List.of(org.commonmark.ext.gfm.tables.TablesExtension.create());
    private final Parser markdown = Parser.builder().extensions(MARKDOWN).build();
    // raw HTML in a report is shown as text; javascript: and other unsafe link targets are dropped
    private final HtmlRenderer markdownHtml = HtmlRenderer.builder().extensions(MARKDOWN).escapeHtml(true).sanitizeUrls(true).build();

    public Dashboard(Parts parts) {
        this.p = parts;
        this.sessions = new UiSessions(parts.store());
        this.stats = new DashboardStats(parts.store(), parts.clock());
    }

    /** Stops the counts' refresh thread and the session sweep. */
    public void close() {
        stats.close();
        sessions.close();
    }

    // ---------------------------------------------------------------- sign-in

    public void loginPage(Context ctx) {
        headers(ctx);
        String csrf = sessions.randomToken();
        cookie(ctx, LOGIN_COOKIE, csrf, "/ui/login", Duration.ofMinutes(30));
        String error = ctx.queryParam("error");
        ctx.status(200).contentType("text/html; charset=utf-8").result(layout(null, "Sign in", "", """
                <div class="login card">
                  <h1>orchestrator</h1>
                  <p class="muted">Sign in with an API token (WEBHOOK_TOKEN or an entry of WEBHOOK_TOKENS).</p>
                  %s
                  <form method="post" action="/ui/login">
                    <input type="hidden" name="_csrf" value="%s">
                    <label for="token">Token</label>
                    <input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
                    <button type="submit" class="btn primary">Sign in</button>
                  </form>
                </div>
                """.formatted(error == null ? "" : "<p class=\"flash error\">That token is not valid.</p>", esc(csrf))));
    }

    /**
     * {@code POST /ui/login}: the login form's CSRF field must match its cookie (a page elsewhere cannot sign a
     * browser in with the attacker's token), then the token is checked like a bearer token, its failures counted
     * against the address like the API's.
     */
    public void login(Context ctx) {
        headers(ctx);
        String expected = ctx.cookie(LOGIN_COOKIE);
        String presented = ctx.formParam("_csrf");
        if (expected == null || presented == null || !java.security.MessageDigest.isEqual(expected.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                presented.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
            throw new ApiError(403, "csrf", "the sign-in form expired or came from elsewhere; reload it");
        }
        String secret = ctx.formParam("token");
        ApiToken token = secret == null || secret.isBlank() ? null : p.admission().signIn(ctx, secret.strip());
        if (token == null) {
            log.info("dashboard sign-in refused from {}", p.admission().clientAddress(ctx));
            ctx.redirect("/ui/login?error=1", io.javalin.http.HttpStatus.SEE_OTHER);
            return;
        }
        UiSessions.Session s = sessions.create(token);
        cookie(ctx, LOGIN_COOKIE, "", "/ui/login", Duration.ZERO);
        cookie(ctx, SESSION_COOKIE, s.id, "/ui", orchestrator.core.store.UiSession.LIFETIME);
        log.info("dashboard sign-in of token {} from {}", token.name(), p.admission().clientAddress(ctx));
        ctx.redirect("/ui", io.javalin.http.HttpStatus.SEE_OTHER);
    }

    public void logout(Context ctx) {
        Who who = acting(ctx);
        sessions.remove(who.session().id);
        cookie(ctx, SESSION_COOKIE, "", "/ui", Duration.ZERO);
        ctx.redirect("/ui/login", io.javalin.http.HttpStatus.SEE_OTHER);
    }

    private void cookie(Context ctx, String name, String value, String path, Duration maxAge) {
        // SameSite=Strict: no other site can make the browser send it, not even with a top-level link
        ctx.res().addHeader("Set-Cookie", name + "=" + value + "; Path=" + path + "; Max-Age=" + maxAge.toSeconds()
                + "; HttpOnly; SameSite=Strict" + (p.admission().secure(ctx) ? "; Secure" : ""));
    }

    /** The signed-in caller of a page, or null after answering with a redirect to the sign-in form. */
    private Who reader(Context ctx) {
        headers(ctx);
        Who who = who(ctx);
        if (who == null) {
            ctx.redirect("/ui/login", io.javalin.http.HttpStatus.FOUND);
            return null;
        }
        p.admission().limitApi(ctx, who.token());
        return who;
    }

    /** The caller of an action: signed in, and the form's {@code _csrf} is this session's (403 otherwise). */
    private Who acting(Context ctx) {
        headers(ctx);
        Who who = who(ctx);
        if (who == null) {
            throw new ApiError(403, "not_signed_in", "sign in at /ui/login first");
        }
        if (!who.session().csrfMatches(ctx.formParam("_csrf"))) {
            throw new ApiError(403, "csrf", "the form's CSRF token is missing or not this session's; reload the page");
        }
        p.admission().limitApi(ctx, who.token());
        return who;
    }

    private Who who(Context ctx) {
        UiSessions.Session s = sessions.find(ctx.cookie(SESSION_COOKIE));
        if (s == null) {
            return null;
        }
        ApiToken t = p.admission().current(s.tokenDigest);
        if (t == null) {
            sessions.remove(s.id); // the token was removed by a reload
            return null;
        }
        return new Who(s, t);
    }

    private static void headers(Context ctx) {
        ctx.header("Content-Security-Policy", CSP);
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("Referrer-Policy", "same-origin");
        ctx.header("Cache-Control", "no-store");
    }

    /**
     * A page handler whose API errors (404, 409, 403, 503) become an HTML page with the same status; a store that
     * cannot answer (sessions live there, so every page needs it) is a 503 page that says to retry, never a 500.
     */
    public Handler page(Handler h) {
        return ctx -> {
            try {
                h.handle(ctx);
            } catch (ApiError e) {
                errorPage(ctx, e);
            } catch (StoreUnavailableException e) {
                log.warn("{} {}: store unavailable: {}", ctx.method(), ctx.path(), e.getMessage());
                // the message is ours, not the store's: it might name files or SQL
                errorPage(ctx, new ApiError(503, "store_unavailable",
                        "The job store is unavailable, so the dashboard cannot check your sign-in or show this page. "
                                + "Nothing was changed; retry in a few seconds.").withHeader("Retry-After", "5"));
            }
        };
    }

    private void errorPage(Context ctx, ApiError e) {
        headers(ctx);
        e.headers().forEach(ctx::header);
        ctx.status(e.status()).contentType("text/html; charset=utf-8").result(layout(null, "Error " + e.status(), "",
                "<div class=\"card\"><h1>" + e.status() + "</h1><p class=\"flash error\">" + esc(e.getMessage())
                        + "</p><p><a href=\"/ui\">Back to the overview</a></p></div>"));
    }

    // ---------------------------------------------------------------- overview

    public void overview(Context ctx) {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        ApiToken t = who.token();
        DashboardStats.View v = stats.view(t);
        Instant now = p.clock().instant();
        List<RunnerView> runners = p.store().runners();
        int live = 0;
        int slots = 0;
        int busy = 0;
        for (RunnerView r : runners) {
            if (r.takesJobs(now, p.runnerStaleAfter())) {
                live++;
                slots += r.slots();
                busy += r.runningJobs().size();
            }
        }
        StringBuilder b = new StringBuilder();
        b.append("<div id=\"overview\" hx-get=\"/ui\" hx-trigger=\"every 2s\" hx-select=\"#overview\" hx-swap=\"outerHTML\">");
        b.append("<div class=\"states\">");
        for (JobState s : JobState.values()) {
            b.append("<a class=\"state-card st-").append(s.wire()).append("\" href=\"/ui/jobs?state=").append(s.wire())
                    .append("\"><span class=\"n\" data-state=\"").append(s.wire()).append("\">").append(Html.count(v.counts().get(s)))
                    .append("</span><span class=\"label\">").append(esc(s.wire().replace('_', ' '))).append("</span></a>");
        }
        b.append("</div><div class=\"grid\">");
        long okHour = java.util.Arrays.stream(v.succeeded()).sum();
        long failedHour = java.util.Arrays.stream(v.failed()).sum();
        b.append("<div class=\"card\"><h2>Throughput, last hour</h2><p class=\"muted\">")
                .append(Html.count(okHour)).append(" succeeded · ").append(Html.count(failedHour))
                .append(" failed, per minute</p><div id=\"chart\" class=\"chart\"></div>")
                .append("<script type=\"application/json\" id=\"chart-data\">")
                .append(Json.write(Map.of("t", v.minutes(), "ok", v.succeeded(), "failed", v.failed())).replace("<", "\\u003c"))
                .append("</script></div>");
        b.append("<div class=\"card\"><h2>Queue</h2><dl class=\"kv\"><dt>queued</dt><dd id=\"queue-depth\">")
                .append(Html.count(v.counts().get(JobState.QUEUED))).append("</dd><dt>running</dt><dd>")
                .append(Html.count(v.counts().get(JobState.RUNNING))).append("</dd><dt>awaiting approval</dt><dd>")
                .append(Html.count(v.counts().get(JobState.AWAITING_APPROVAL))).append("</dd><dt>needs human</dt><dd>")
                .append(Html.count(v.counts().get(JobState.NEEDS_HUMAN))).append("</dd><dt>all jobs</dt><dd>")
                .append(Html.count(v.total())).append("</dd></dl></div>");
        b.append("<div class=\"card\"><h2>Runners</h2><dl class=\"kv\"><dt>live</dt><dd>").append(live).append(" of ")
                .append(runners.size()).append("</dd><dt>slots busy</dt><dd>").append(busy).append(" / ").append(slots)
                .append("</dd></dl><progress max=\"").append(Math.max(1, slots)).append("\" value=\"").append(busy)
                .append("\"></progress><p><a href=\"/ui/runners\">All runners →</a></p></div>");
        b.append("<div class=\"card wide\"><h2>Today (UTC) per project</h2>");
        if (v.today().isEmpty()) {
            b.append("<p class=\"muted\">No job finished today.</p>");
        } else {
            b.append("<table><thead><tr><th>project</th><th class=\"num\">finished</th><th class=\"num\">failed</th>")
                    .append("<th class=\"num\">cost</th><th class=\"num\">tokens in</th><th class=\"num\">tokens out</th></tr></thead><tbody>");
            v.today().forEach((project, d) -> b.append("<tr><td>").append(esc(project)).append("</td><td class=\"num\">")
                    .append(Html.count(d.jobs())).append("</td><td class=\"num\">").append(Html.count(d.failed()))
                    .append("</td><td class=\"num\">").append(Html.cost(d.costUsd())).append("</td><td class=\"num\">")
                    .append(Html.count(d.tokensIn())).append("</td><td class=\"num\">").append(Html.count(d.tokensOut()))
                    .append("</td></tr>"));
            b.append("</tbody></table>");
        }
        b.append("</div></div></div>");
        html(ctx, layout(who, "Overview", "overview", b.toString()));
    }

    // ---------------------------------------------------------------- jobs

    public void jobs(Context ctx) {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        ApiToken t = who.token();
        String state = param(ctx, "state");
        String project = param(ctx, "project");
        String agent = param(ctx, "agent");
        String tag = param(ctx, "tag");
        String source = param(ctx, "source");
        String q = param(ctx, "q");
        String cursor = param(ctx, "cursor");
        JobState st = null;
        if (state != null) {
            try {
                st = JobState.fromWire(state);
            } catch (IllegalArgumentException e) {
                throw new ApiError(400, "invalid_query", "no state '" + state + "'");
            }
        }
        if (source != null && !Source.TYPES.contains(source)) {
            throw new ApiError(400, "invalid_query", "no source '" + source + "'");
        }
        for (String s : new String[] {agent, tag, q}) {
            if (s != null && s.length() > 200) {
                throw new ApiError(400, "invalid_query", "a filter is at most 200 characters");
            }
        }
        ApiToken.Listing scope = t.listing(project).orElseThrow(() ->
                new ApiError(403, "forbidden_project", "this token may not read jobs of project '" + project + "'"));
        JobPage page = p.store().page(new JobQuery(scope.projects(), scope.includeUnscoped(), st, PAGE_SIZE, Cursor.decode(cursor), tag, source,
                null, null, agent, q));
        StringBuilder filter = new StringBuilder();
        for (String[] kv : new String[][] {{"state", state}, {"project", project}, {"agent", agent}, {"tag", tag},
                {"source", source}, {"q", q}}) {
            if (kv[1] != null) {
                filter.append(filter.isEmpty() ? "" : "&").append(kv[0]).append('=').append(Html.url(kv[1]));
            }
        }
        String self = "/ui/jobs" + (filter.isEmpty() ? "" : "?" + filter);
        StringBuilder b = new StringBuilder();
        b.append("<form class=\"filters card\" method=\"get\" action=\"/ui/jobs\">");
        b.append(select("state", state, java.util.Arrays.stream(JobState.values()).map(JobState::wire).toList()));
        b.append(select("project", project, visibleProjects(t)));
        b.append(input("agent", agent, "agent")).append(input("tag", tag, "tag"));
        b.append(select("source", source, new ArrayList<>(new TreeSet<>(Source.TYPES))));
        b.append(input("q", q, "text in goal"));
        b.append("<button class=\"btn primary\" type=\"submit\">Filter</button> <a class=\"btn\" href=\"/ui/jobs\">Clear</a></form>");
        b.append("<div class=\"card\"><table class=\"jobs\"><thead><tr><th>job</th><th>state</th><th>project</th><th>goal</th>")
                .append("<th>agents</th><th>source</th><th>created</th><th class=\"num\">duration</th><th class=\"num\">cost</th></tr></thead>");
        // the first page follows new jobs; an older page stays put while one reads it
        b.append("<tbody id=\"jobs-rows\"");
        if (cursor == null) {
            b.append(" hx-get=\"").append(esc(self)).append("\" hx-trigger=\"every 2s\" hx-select=\"#jobs-rows\" hx-swap=\"outerHTML\"");
        }
        b.append(">");
        Instant now = p.clock().instant();
        for (JobView j : page.jobs()) {
            Set<String> agents = new LinkedHashSet<>();
            for (Step s : j.spec().steps()) {
                agents.add(s.agent());
            }
            b.append("<tr data-job=\"").append(esc(j.id())).append("\"><td><a class=\"mono\" href=\"/ui/jobs/").append(esc(j.id()))
                    .append("\">").append(esc(j.id().substring(0, Math.min(12, j.id().length())))).append("</a></td><td>")
                    .append(Html.badge(j.state().wire())).append("</td><td>").append(esc(j.project() == null ? "—" : j.project()))
                    .append("</td><td class=\"goal\">").append(esc(abbreviate(j.spec().goal(), 120))).append("</td><td>")
                    .append(esc(String.join(", ", agents))).append("</td><td>").append(esc(j.source().type())).append("</td><td>")
                    .append(Html.time(j.createdAt())).append("</td><td class=\"num\">")
                    .append(j.startedAt() == null ? "" : Html.duration(j.startedAt(), j.finishedAt() == null ? now : j.finishedAt()))
                    .append("</td><td class=\"num\">").append(Html.cost(j.costUsd())).append("</td></tr>");
        }
        if (page.jobs().isEmpty()) {
            b.append("<tr><td colspan=\"9\" class=\"muted\">No jobs match.</td></tr>");
        }
        b.append("</tbody></table><div class=\"pager\">");
        if (cursor != null) {
            b.append("<a class=\"btn\" href=\"").append(esc(self)).append("\">← Newest</a> ");
        }
        if (page.nextBeforeId() != null) {
            b.append("<a class=\"btn\" id=\"older\" href=\"").append(esc(self + (filter.isEmpty() ? "?" : "&") + "cursor="
                    + Html.url(Cursor.encode(page.nextBeforeId())))).append("\">Older →</a>");
        }
        b.append("</div></div>");
        html(ctx, layout(who, "Jobs", "jobs", b.toString()));
    }

    private List<String> visibleProjects(ApiToken t) {
        Set<String> all = new TreeSet<>(p.admission().config().projects());
        all.removeIf(x -> !t.sees(x));
        return new ArrayList<>(all);
    }

    public void job(Context ctx) throws IOException {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        ApiToken t = who.token();
        JobView j = JobRoutes.visible(p.store(), t, ctx.pathParam("id"));
        String id = j.id();
        Instant now = p.clock().instant();
        StringBuilder b = new StringBuilder();
        boolean moving = j.state() == JobState.QUEUED || j.state() == JobState.RUNNING || j.state() == JobState.AWAITING_APPROVAL;
        b.append("<div id=\"job-live\" data-state=\"").append(j.state().wire()).append('"');
        if (moving) {
            // polled while it can change by itself; a final or waiting job's page keeps still (a prompt being typed stays)
            b.append(" hx-get=\"/ui/jobs/").append(esc(id)).append("\" hx-trigger=\"every 2s\" hx-select=\"#job-live\" hx-swap=\"outerHTML\"");
        }
        b.append("><div class=\"card\"><div class=\"job-head\"><h1>").append(Html.badge(j.state().wire())).append(" <span class=\"mono\">")
                .append(esc(id)).append("</span></h1><p class=\"goal\">").append(esc(j.spec().goal())).append("</p>");
        b.append("<dl class=\"kv inline\"><dt>project</dt><dd>").append(esc(j.project() == null ? "—" : j.project()))
                .append("</dd><dt>source</dt><dd>").append(esc(j.source().type())).append("</dd><dt>attempt</dt><dd>").append(j.attempt())
                .append("</dd><dt>created</dt><dd>").append(Html.time(j.createdAt())).append("</dd><dt>duration</dt><dd>")
                .append(j.startedAt() == null ? "" : Html.duration(j.startedAt(), j.finishedAt() == null ? now : j.finishedAt()))
                .append("</dd><dt>cost</dt><dd>").append(Html.cost(j.costUsd())).append("</dd><dt>tokens</dt><dd>")
                .append(Html.count(j.tokensIn())).append(" in / ").append(Html.count(j.tokensOut())).append(" out</dd>");
        if (!j.spec().tags().isEmpty()) {
            b.append("<dt>tags</dt><dd>").append(esc(String.join(", ", j.spec().tags()))).append("</dd>");
        }
        b.append("</dl>");
        if (j.errorCode() != null) {
            b.append("<p class=\"flash error\"><b>").append(esc(j.errorCode())).append("</b> ").append(esc(j.errorMessage())).append("</p>");
        }
        b.append("</div>").append(actions(who, j)).append("</div>");
        // steps as a timeline
        b.append("<div class=\"card\"><h2>Steps</h2><ol class=\"timeline\">");
        for (Step s : j.spec().steps()) {
            StepRecord r = j.steps().stream().filter(x -> x.stepId().equals(s.stepId())).findFirst().orElse(null);
            String status = r == null ? "pending" : r.status();
            b.append("<li class=\"step st-").append(esc(status)).append("\" data-step=\"").append(esc(s.stepId())).append("\"><div class=\"dot\"></div><div>")
                    .append("<b>").append(esc(s.stepId())).append("</b> <span class=\"muted\">").append(esc(s.agent()))
                    .append(s.role() == null ? "" : " · " + esc(s.role())).append("</span> ").append(Html.badge(status));
            if (r != null) {
                b.append("<div class=\"muted small\">");
                if (r.startedAt() != null) {
                    b.append(Html.duration(r.startedAt(), r.finishedAt() == null ? now : r.finishedAt())).append(" · ");
                }
                b.append(Html.count(r.tokensIn() + r.tokensOut())).append(" tokens · ").append(Html.cost(r.costUsd()));
                if (r.exitCode() != null) {
                    b.append(" · exit ").append(r.exitCode());
                }
                if (r.errorCode() != null) {
                    b.append(" · <span class=\"err\">").append(esc(r.errorCode())).append("</span> ").append(esc(r.errorMessage()));
                }
                b.append(" · <a href=\"/ui/jobs/").append(esc(id)).append("/artifacts/steps/").append(esc(s.stepId()))
                        .append("/logs.txt\">log</a></div>");
            }
            b.append("</div></li>");
        }
        b.append("</ol></div></div>");
        // the live log: the API's follow stream, read by ui.js (EventSource sends the session cookie, same origin)
        b.append("<div class=\"card\"><h2>Log</h2><pre id=\"log\" class=\"log\" data-src=\"/ui/jobs/").append(esc(id))
                .append("/logs\"></pre><p id=\"log-state\" class=\"muted small\">connecting…</p></div>");
        p.artifacts().readText(id, "report.md", MAX_SHOWN_BYTES).ifPresent(r -> b.append("<div class=\"card\"><h2>report.md</h2><div class=\"markdown\" id=\"report\">")
                .append(markdownHtml.render(markdown.parse(r.text()))).append(r.truncated() ? "<p class=\"muted\">(cut; the whole file is below)</p>" : "")
                .append("</div></div>"));
        p.artifacts().readText(id, "patch.diff", MAX_SHOWN_BYTES).ifPresent(r -> b.append("<div class=\"card\"><h2>patch.diff</h2>")
                .append(diff(r.text())).append(r.truncated() ? "<p class=\"muted\">(cut; the whole file is below)</p>" : "").append("</div>"));
        List<JobArtifacts.Listed> listed = p.artifacts().listed(id);
        b.append("<div class=\"card\"><h2>Artifacts</h2>");
        if (listed.isEmpty()) {
            b.append("<p class=\"muted\">None yet.</p>");
        } else {
            b.append("<table id=\"artifacts\"><tbody>");
            for (JobArtifacts.Listed f : listed) {
                b.append("<tr><td><a class=\"mono\" href=\"/ui/jobs/").append(esc(id)).append("/artifacts/").append(esc(f.path()))
                        .append("\">").append(esc(f.path())).append("</a></td><td class=\"num\">").append(Html.count(f.size()))
                        .append(" B</td></tr>");
            }
            b.append("</tbody></table>");
        }
        b.append("</div><div class=\"card\"><h2>Audit trail</h2><table class=\"events\"><thead><tr><th>at</th><th>actor</th>")
                .append("<th>from</th><th>to</th><th>reason</th></tr></thead><tbody>");
        for (JobEvent e : p.store().events(id)) {
            b.append("<tr><td>").append(Html.time(e.at())).append("</td><td>").append(esc(e.actor())).append("</td><td>")
                    .append(e.fromState() == null ? "" : Html.badge(e.fromState())).append("</td><td>")
                    .append(e.toState() == null ? "" : Html.badge(e.toState())).append("</td><td>").append(esc(e.reason()))
                    .append("</td></tr>");
        }
        b.append("</tbody></table></div>");
        html(ctx, layout(who, "Job " + id.substring(0, Math.min(12, id.length())), "jobs", b.toString()));
    }

    /** The buttons the job's state allows (the store's rules), for a token that may act. */
    private String actions(Who who, JobView j) {
        if (who.token().readOnly()) {
            return "<p class=\"muted small\">read-only token: no actions</p>";
        }
        JobState s = j.state();
        StringBuilder b = new StringBuilder("<div class=\"actions\">");
        if (s == JobState.AWAITING_APPROVAL || s == JobState.NEEDS_HUMAN) {
            b.append(button(who, "/ui/jobs/" + j.id() + "/approve", "Approve", "primary"));
            b.append(button(who, "/ui/jobs/" + j.id() + "/reject", "Reject", "danger"));
        }
        if ((s == JobState.QUEUED || s == JobState.RUNNING || s == JobState.AWAITING_APPROVAL || s == JobState.NEEDS_HUMAN)
                && !j.cancelRequested()) {
            b.append(button(who, "/ui/jobs/" + j.id() + "/cancel", "Cancel", "danger"));
        }
        if (s == JobState.FAILED || s == JobState.CANCELLED) {
            b.append(button(who, "/ui/jobs/" + j.id() + "/retry", "Retry", ""));
        }
        if (j.cancelRequested() && s == JobState.RUNNING) {
            b.append("<span class=\"muted\">cancel requested…</span>");
        }
        b.append("</div>");
        if (s.isFinal() || s == JobState.NEEDS_HUMAN) {
            b.append("<form class=\"continue\" method=\"post\" action=\"/ui/jobs/").append(esc(j.id())).append("/continue\">")
                    .append(csrf(who)).append("<label for=\"prompt\">Continue in the same workspace</label>")
                    .append("<textarea id=\"prompt\" name=\"prompt\" rows=\"3\" required placeholder=\"Now add a test for it.\"></textarea>")
                    .append("<button class=\"btn\" type=\"submit\">Continue</button></form>");
        }
        return b.toString();
    }

    private static String button(Who who, String action, String label, String kind) {
        return "<form class=\"inline\" method=\"post\" action=\"" + esc(action) + "\">" + csrf(who)
                + "<button class=\"btn " + kind + "\" type=\"submit\" name=\"do\" value=\"" + esc(label.toLowerCase(java.util.Locale.ROOT))
                + "\">" + esc(label) + "</button></form>";
    }

    private static String csrf(Who who) {
        return "<input type=\"hidden\" name=\"_csrf\" value=\"" + esc(who.session().csrf) + "\">";
    }

    /** {@code POST /ui/jobs/{id}/<action>}: the API's action for this token, then back to the job's page. */
    public Handler jobAction(String action) {
        return page(ctx -> {
            Who who = acting(ctx);
            String id = ctx.pathParam("id");
            if (action.equals("continue")) {
                String prompt = ctx.formParam("prompt");
                if (prompt == null || prompt.isBlank()) {
                    throw new ApiError(400, "invalid_payload", "prompt is required");
                }
                p.jobs().continueJob(id, who.token(), prompt);
            } else {
                p.jobs().act(id, who.token(), action);
            }
            ctx.redirect("/ui/jobs/" + Html.url(id), io.javalin.http.HttpStatus.SEE_OTHER);
        });
    }

    /** {@code GET /ui/jobs/{id}/logs}: the API's follow stream, for the session's token. */
    public void logs(Context ctx) throws IOException {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        p.logs().serve(ctx, who.token(), ctx.pathParam("id"), true);
    }

    /** {@code GET /ui/jobs/{id}/artifacts/<path>}: the API's artifact download, for the session's token. */
    public void artifact(Context ctx) throws IOException {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        p.artifacts().serve(ctx, who.token(), ctx.pathParam("id"), ctx.pathParam("path"));
    }

    /** A unified diff, each line escaped and classed by its first characters. */
    static String diff(String text) {
        StringBuilder b = new StringBuilder("<pre class=\"diff\" id=\"diff\">");
        for (String line : text.split("\n", -1)) {
            String cls;
            if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")
                    || line.startsWith("new file") || line.startsWith("deleted file")) {
                cls = "meta";
            } else if (line.startsWith("@@")) {
                cls = "hunk";
            } else if (line.startsWith("+")) {
                cls = "add";
            } else if (line.startsWith("-")) {
                cls = "del";
            } else {
                cls = "ctx";
            }
            // each line a block of its own (so its colour spans the width): no newline between them, or it doubles
            b.append("<span class=\"").append(cls).append("\">").append(line.isEmpty() ? " " : esc(line)).append("</span>");
        }
        return b.append("</pre>").toString();
    }

    // ---------------------------------------------------------------- schedules and runners

    public void schedules(Context ctx) {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        StringBuilder b = new StringBuilder("<div class=\"card\"><h2>Schedules</h2>");
        if (!p.hasSchedules()) {
            b.append("<p class=\"muted\">This gateway was started without schedules.</p></div>");
            html(ctx, layout(who, "Schedules", "schedules", b.toString()));
            return;
        }
        List<ScheduleStatus> all = p.schedules().visible(who.token());
        b.append("<table class=\"schedules\"><thead><tr><th>schedule</th><th>project</th><th>when</th><th>state</th>")
                .append("<th>next fires</th><th>last fires</th><th></th></tr></thead><tbody>");
        for (ScheduleStatus s : all) {
            String state = s.broken() ? "broken" : s.paused() ? "paused" : s.enabled() ? "enabled" : "disabled";
            b.append("<tr data-schedule=\"").append(esc(s.id())).append("\"><td><b>").append(esc(s.id())).append("</b></td><td>")
                    .append(esc(s.project() == null ? "—" : s.project())).append("</td><td class=\"mono\">").append(esc(s.expression()))
                    .append(s.timezone() == null ? "" : " <span class=\"muted\">" + esc(s.timezone()) + "</span>").append("</td><td>")
                    .append("<span class=\"badge sc-").append(state).append("\">").append(state).append("</span>");
            if (s.broken()) {
                b.append("<div class=\"err small\">").append(esc(s.error())).append("</div>");
            }
            b.append("</td><td class=\"small\">");
            s.nextFireTimes().stream().limit(3).forEach(t -> b.append(Html.time(t)).append("<br>"));
            b.append("</td><td class=\"small\">");
            for (ScheduleFire f : s.recentFires().stream().limit(3).toList()) {
                b.append(Html.time(f.fireTime())).append(" ");
                if (f.jobId() != null) {
                    b.append("<a class=\"mono\" href=\"/ui/jobs/").append(esc(f.jobId())).append("\">")
                            .append(esc(f.jobId().substring(0, Math.min(8, f.jobId().length())))).append("</a> ")
                            .append(f.jobState() == null ? "" : Html.badge(f.jobState().wire()));
                } else {
                    b.append("<span class=\"muted\">").append(esc(f.outcome())).append("</span>");
                }
                b.append("<br>");
            }
            b.append("</td><td class=\"buttons\">");
            if (!who.token().readOnly() && !s.broken()) {
                String base = "/ui/schedules/" + s.id();
                b.append(s.paused() ? button(who, base + "/resume", "Resume", "") : button(who, base + "/pause", "Pause", ""));
                b.append(button(who, base + "/run", "Run now", "primary"));
            }
            b.append("</td></tr>");
        }
        if (all.isEmpty()) {
            String none = p.schedules().noneNote();
            b.append("<tr><td colspan=\"7\" class=\"muted\">").append(none == null ? "No schedules of your projects." : esc("No schedules: " + none))
                    .append("</td></tr>");
        }
        b.append("</tbody></table></div>");
        html(ctx, layout(who, "Schedules", "schedules", b.toString()));
    }

    /** {@code POST /ui/schedules/{id}/<pause|resume|run>}: the API's schedule action for this token. */
    public Handler scheduleAction(String action) {
        return page(ctx -> {
            Who who = acting(ctx);
            if (!p.hasSchedules()) {
                throw new ApiError(503, "schedules_unavailable", "this gateway was started without the schedules");
            }
            Map<String, Object> r = p.schedules().act(ctx.pathParam("id"), who.token(), action);
            Object job = r.get("job_id");
            ctx.redirect(action.equals("run") && job != null ? "/ui/jobs/" + Html.url(job.toString()) : "/ui/schedules",
                    io.javalin.http.HttpStatus.SEE_OTHER);
        });
    }

    public void runners(Context ctx) {
        Who who = reader(ctx);
        if (who == null) {
            return;
        }
        Instant now = p.clock().instant();
        List<RunnerView> runners = p.store().runners();
        // PostgreSQL only: each runner host's clock against the database server's, at its last heartbeat
        boolean clocks = runners.stream().anyMatch(r -> r.clockSkewMs() != null);
        StringBuilder b = new StringBuilder("<div class=\"card\" id=\"runners\" hx-get=\"/ui/runners\" hx-trigger=\"every 5s\" "
                + "hx-select=\"#runners\" hx-swap=\"outerHTML\"><h2>Runners</h2><table><thead><tr><th>runner</th><th>host</th>"
                + "<th class=\"num\">pid</th><th>version</th><th class=\"num\">slots</th><th class=\"num\">running</th><th>status</th>"
                + "<th class=\"num\">heartbeat age</th>"
                + (clocks ? "<th class=\"num\" title=\"the host's clock against the database server's\">clock</th>" : "")
                + "<th>started</th></tr></thead><tbody>");
        for (RunnerView r : runners) {
            String status = r.status(now, p.runnerStaleAfter()).wire();
            b.append("<tr><td class=\"mono\">").append(esc(r.runnerId())).append("</td><td>").append(esc(r.host()))
                    .append("</td><td class=\"num\">").append(r.pid()).append("</td><td>").append(esc(r.version()))
                    .append("</td><td class=\"num\">").append(r.slots()).append("</td><td class=\"num\">").append(r.runningJobs().size())
                    .append("</td><td><span class=\"badge rn-").append(esc(status)).append("\">").append(esc(status))
                    .append(r.draining() ? " · draining" : "").append("</span></td><td class=\"num\">")
                    .append(Html.duration(r.heartbeatAge(now))).append("</td>");
            if (clocks) {
                Long skew = r.clockSkewMs();
                boolean off = skew != null && Math.abs(skew) > PostgresJobStore.CLOCK_SKEW_WARN.toMillis();
                b.append("<td class=\"num\">").append(skew == null ? "–" : off ? "<span class=\"badge rn-stale\">"
                        + esc(RunnerView.signedMillis(skew)) + "</span>" : esc(RunnerView.signedMillis(skew))).append("</td>");
            }
            b.append("<td>").append(Html.time(r.startedAt())).append("</td></tr>");
        }
        if (runners.isEmpty()) {
            b.append("<tr><td colspan=\"9\" class=\"muted\">No runner has registered.</td></tr>");
        }
        b.append("</tbody></table></div>");
        html(ctx, layout(who, "Runners", "runners", b.toString()));
    }

    /** {@code GET /ui/assets/{file}}: the dashboard's own script and style, and htmx and uPlot from their WebJars. */
    public void asset(Context ctx) {
        assets.serve(ctx);
    }

    // ---------------------------------------------------------------- layout

    private static void html(Context ctx, String page) {
        ctx.status(200).contentType("text/html; charset=utf-8").result(page);
    }

    private static String layout(Who who, String title, String active, String body) {
        StringBuilder nav = new StringBuilder();
        if (who != null) {
            nav.append("<nav class=\"top\"><a class=\"brand\" href=\"/ui\">orchestrator</a>");
            for (String[] l : new String[][] {{"overview", "/ui", "Overview"}, {"jobs", "/ui/jobs", "Jobs"},
                    {"schedules", "/ui/schedules", "Schedules"}, {"runners", "/ui/runners", "Runners"}}) {
                nav.append("<a href=\"").append(l[1]).append("\"").append(l[0].equals(active) ? " class=\"active\"" : "").append(">")
                        .append(l[2]).append("</a>");
            }
            ApiToken t = who.token();
            nav.append("<span class=\"spacer\"></span><span class=\"who\">").append(esc(t.name())).append(" · ")
                    .append(esc(t.everyProject() ? "all projects" : String.join(", ", new TreeSet<>(t.projects()))))
                    .append(t.readOnly() ? " · read-only" : "").append("</span>")
                    .append("<form class=\"inline\" method=\"post\" action=\"/ui/logout\">").append(csrf(who))
                    .append("<button class=\"btn small\" type=\"submit\">Sign out</button></form></nav>");
        }
        return """
                <!doctype html>
                <html lang="en">
                <head>
                  <meta charset="utf-8">
                  <meta name="viewport" content="width=device-width, initial-scale=1">
                  <meta name="htmx-config" content='{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false}'>
                  <title>%s · orchestrator</title>
                  <link rel="stylesheet" href="/ui/assets/uPlot.min.css">
                  <link rel="stylesheet" href="/ui/assets/ui.css">
                  <script src="/ui/assets/htmx.min.js" defer></script>
                  <script src="/ui/assets/uPlot.iife.min.js" defer></script>
                  <script src="/ui/assets/ui.js" defer></script>
                </head>
                <body>
                %s
                <main>
                %s
                </main>
                </body>
                </html>
                """.formatted(esc(title), nav, body);
    }

    private static String select(String name, String value, List<String> options) {
        StringBuilder b = new StringBuilder("<select name=\"" + name + "\" aria-label=\"" + name + "\"><option value=\"\">any " + name + "</option>");
        for (String o : options) {
            b.append("<option value=\"").append(esc(o)).append('"').append(o.equals(value) ? " selected" : "").append('>')
                    .append(esc(o)).append("</option>");
        }
        return b.append("</select>").toString();
    }

    private static String input(String name, String value, String placeholder) {
        return "<input type=\"text\" name=\"" + name + "\" placeholder=\"" + esc(placeholder) + "\" value=\"" + esc(value) + "\">";
    }

    private static String param(Context ctx, String name) {
        String v = ctx.queryParam(name);
        return v == null || v.isBlank() ? null : v.strip();
    }

    private static String abbreviate(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
