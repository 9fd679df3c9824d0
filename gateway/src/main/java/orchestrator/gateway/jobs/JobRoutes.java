package orchestrator.gateway.jobs;

import io.javalin.http.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import java.time.Instant;
import orchestrator.core.job.Source;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.Callback;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobPage;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.ApiToken;
import orchestrator.gateway.auth.Admission;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The job API: read, list and act on jobs, each scoped to the token's projects. A job the token may not
 * see answers exactly like a job that does not exist, so a scoped token cannot probe other projects' ids.
 */
public final class JobRoutes {
    public static final int DEFAULT_LIMIT = 50;
    private static final Logger log = LoggerFactory.getLogger(JobRoutes.class);

    private final Admission admission;
    private final JobStore store;

    public JobRoutes(Admission admission, JobStore store) {
        this.admission = admission;
        this.store = store;
    }

    /** {@code GET /jobs/{id}}, with the state of its completion callback when it has one. */
    public void get(Context ctx) {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        JobView v = visible(store, token, ctx.pathParam("id"));
        Map<String, Object> body = v.apiBody();
        body.put("callback", v.spec().callbackUrl() == null ? null : callbackBody(store.findCallback(v.id()).orElse(null)));
        json(ctx, 200, body);
    }

    /**
     * The callback's delivery state. The outbox row is written when the job reaches a final state, so until then
     * the callback is {@code pending} with no attempt; a URL the runner would not send to (a private address
     * without {@code CALLBACK_ALLOW_PRIVATE}, a bad scheme) ends {@code refused} with the reason.
     */
    static Map<String, Object> callbackBody(Callback c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", c == null ? "pending" : c.status());
        m.put("attempts", c == null ? 0 : c.attempts());
        m.put("last_error", c == null ? null : c.lastError());
        if (c != null && c.status().equals("refused")) {
            m.put("reason", c.lastError());
        }
        m.put("next_attempt_at", c == null || !c.status().equals("pending") ? null : c.nextAttemptAt().toString());
        return m;
    }

    /** {@code GET /jobs/{id}/events}: the job's audit trail, oldest first. */
    public void events(Context ctx) {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        String id = visible(store, token, ctx.pathParam("id")).id();
        List<Map<String, Object>> events = new java.util.ArrayList<>();
        for (JobEvent e : store.events(id)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", e.id());
            m.put("at", e.at().toString());
            m.put("actor", e.actor());
            m.put("from", e.fromState());
            m.put("to", e.toState());
            m.put("reason", e.reason());
            events.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("job_id", id);
        body.put("events", events);
        json(ctx, 200, body);
    }

    /**
     * {@code GET /jobs?project=&state=&tag=&source=&created_after=&created_before=&limit=&cursor=}, newest first.
     * {@code next_cursor} continues the same listing (pass it with the same filters) and is null on the last page.
     */
    public void list(Context ctx) {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        String project = param(ctx, "project");
        JobState state = null;
        String stateText = param(ctx, "state");
        if (stateText != null) {
            try {
                state = JobState.fromWire(stateText);
            } catch (IllegalArgumentException e) {
                throw invalid("state", "state must be one of " + states());
            }
        }
        int limit = DEFAULT_LIMIT;
        String limitText = param(ctx, "limit");
        if (limitText != null) {
            try {
                limit = Integer.parseInt(limitText);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > JobQuery.MAX_LIMIT) {
                throw invalid("limit", "limit must be between 1 and " + JobQuery.MAX_LIMIT);
            }
        }
        String source = param(ctx, "source");
        if (source != null && !Source.TYPES.contains(source)) {
            throw invalid("source", "source must be one of " + new java.util.TreeSet<>(Source.TYPES));
        }
        String tag = param(ctx, "tag");
        if (tag != null && tag.length() > MAX_TAG) {
            throw invalid("tag", "tag must be at most " + MAX_TAG + " characters");
        }
        Instant after = instant(ctx, "created_after");
        Instant before = instant(ctx, "created_before");
        String beforeId = Cursor.decode(param(ctx, "cursor"));
        String agent = filterText(ctx, "agent");
        String goalText = filterText(ctx, "q");
        ApiToken.Listing scope = token.listing(project).orElseThrow(() ->
                new ApiError(403, "forbidden_project", "this token may not read jobs of project '" + project + "'"));
        JobPage page = store.page(new JobQuery(scope.projects(), scope.includeUnscoped(), state, limit, beforeId, tag, source,
                after, before, agent, goalText));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("jobs", page.jobs().stream().map(JobView::apiBody).toList());
        body.put("next_cursor", page.nextBeforeId() == null ? null : Cursor.encode(page.nextBeforeId()));
        json(ctx, 200, body);
    }

    private static final int MAX_TAG = 200;

    /** A text filter ({@code agent}, {@code q}: the goal contains it, ignoring ASCII case), at most {@link #MAX_TAG} characters. */
    private static String filterText(Context ctx, String name) {
        String text = param(ctx, name);
        if (text != null && text.length() > MAX_TAG) {
            throw invalid(name, name + " must be at most " + MAX_TAG + " characters");
        }
        return text;
    }

    /** An ISO-8601 instant ({@code 2026-01-31T09:00:00Z}, or with an offset), or null when the parameter is absent. */
    private static Instant instant(Context ctx, String name) {
        String text = param(ctx, name);
        if (text == null) {
            return null;
        }
        try {
            return java.time.OffsetDateTime.parse(text).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            throw invalid(name, name + " must be an ISO-8601 instant such as 2026-01-31T09:00:00Z");
        }
    }

    private static String param(Context ctx, String name) {
        return blankToNull(ctx.queryParam(name));
    }

    static ApiError invalid(String field, String message) {
        return new ApiError(400, "invalid_query", message).with("field", field);
    }

    public void cancel(Context ctx) {
        act(ctx, "cancel", store::cancel);
    }

    public void approve(Context ctx) {
        act(ctx, "approve", store::approve);
    }

    public void reject(Context ctx) {
        act(ctx, "reject", store::reject);
    }

    public void retry(Context ctx) {
        act(ctx, "retry", store::retry);
    }

    /**
     * {@code POST /jobs/{id}/continue} with {@code {"prompt": "..."}}: a follow-up step in the same
     * workspace, resuming the agent's session; the answer names the step that was added.
     */
    public void continueJob(Context ctx) {
        ApiToken token = admission.admitToAct(ctx, Admission.Budget.API).token();
        String id = visible(store, token, ctx.pathParam("id")).id();
        String prompt = continuePrompt(ctx.body());
        Map<String, Object> body = continueJob(id, token, prompt);
        json(ctx, 200, body);
    }

    /**
     * Continues job {@code id} with {@code prompt} for {@code token} (the dashboard's form and the API): the
     * same scope, read-only and state rules, the token's name as the audit actor.
     *
     * @throws ApiError 403 for a read-only token, 404 for a job the token cannot see, 409 when the state does not allow it
     */
    public Map<String, Object> continueJob(String id, ApiToken token, String prompt) {
        Admission.requireMayAct(token);
        visible(store, token, id);
        Map<String, Object> body = act(id, token, "continue", (job, actor) -> store.continueJob(job, prompt, actor));
        JobView v = store.find(id).orElseThrow(JobRoutes::notFound);
        body.put("step_id", v.resumeStep());
        body.put("continues", v.resumeStep() == null ? null : v.spec().step(v.resumeStep()).continues());
        body.put("status_url", "/jobs/" + id);
        return body;
    }

    /** The {@code prompt} of a continue request; a 400 naming the field for anything else. */
    static String continuePrompt(String body) {
        com.fasterxml.jackson.databind.JsonNode n;
        try {
            n = body == null || body.isBlank() ? null : Json.parse(body);
        } catch (RuntimeException e) {
            throw new ApiError(400, "invalid_json", "the body must be a JSON object such as {\"prompt\": \"...\"}");
        }
        if (n == null || !n.isObject() || !n.path("prompt").isTextual() || n.path("prompt").asText().isBlank()) {
            throw new ApiError(400, "invalid_payload", "prompt is required: a non-empty string").with("field", "prompt");
        }
        String prompt = n.get("prompt").asText();
        if (prompt.length() > orchestrator.core.job.JobSpecParser.MAX_PROMPT) {
            throw new ApiError(400, "invalid_payload", "prompt must be at most " + orchestrator.core.job.JobSpecParser.MAX_PROMPT
                    + " characters").with("field", "prompt");
        }
        return prompt;
    }

    private void act(Context ctx, String action, BiFunction<String, String, ActionResult> op) {
        ApiToken token = admission.admitToAct(ctx, Admission.Budget.API).token();
        String id = visible(store, token, ctx.pathParam("id")).id();
        json(ctx, 200, act(id, token, action, op));
    }

    /** The actions of {@code POST /jobs/{id}/<action>} without a body, by name. */
    public static final List<String> ACTIONS = List.of("cancel", "retry", "approve", "reject");

    /**
     * One of {@link #ACTIONS} on job {@code id} for {@code token}: the code path of the API's action routes,
     * for the dashboard's buttons.
     *
     * @throws ApiError 403 for a read-only token, 404 for a job the token cannot see, 409 when the state does not allow it
     */
    public Map<String, Object> act(String id, ApiToken token, String action) {
        Admission.requireMayAct(token);
        visible(store, token, id);
        BiFunction<String, String, ActionResult> op = switch (action) {
            case "cancel" -> store::cancel;
            case "retry" -> store::retry;
            case "approve" -> store::approve;
            case "reject" -> store::reject;
            default -> throw new ApiError(404, "not_found", "no action '" + action + "'");
        };
        return act(id, token, action, op);
    }

    /** Runs one action and answers its body, or throws the 404/409 it ended in. */
    private Map<String, Object> act(String id, ApiToken token, String action, BiFunction<String, String, ActionResult> op) {
        ActionResult r = op.apply(id, token.name());
        switch (r.kind()) {
            case DONE -> {
                MDC.put("job_id", id);
                try {
                    log.info("{} of job {} by token {}: now {}", action, id, token.name(), r.state().wire());
                } finally {
                    MDC.remove("job_id");
                }
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("job_id", id);
                body.put("status", r.state().wire());
                return body;
            }
            case NOT_FOUND -> throw notFound();
            case CONFLICT -> throw new ApiError(409, "conflict", r.message())
                    .with("status", r.state() == null ? null : r.state().wire());
            default -> throw new IllegalStateException("unknown action result " + r.kind());
        }
    }

    /** The job if this token may see it; else the same 404 as for a job that does not exist. */
    public static JobView visible(JobStore store, ApiToken token, String id) {
        JobView v = store.find(id).orElseThrow(JobRoutes::notFound);
        if (!token.sees(v.project())) {
            throw notFound();
        }
        return v;
    }

    static ApiError notFound() {
        return new ApiError(404, "not_found", "no such job");
    }

    static void json(Context ctx, int status, Object body) {
        ctx.status(status).contentType("application/json").result(Json.write(body));
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    private static List<String> states() {
        return java.util.Arrays.stream(JobState.values()).map(JobState::wire).toList();
    }
}
