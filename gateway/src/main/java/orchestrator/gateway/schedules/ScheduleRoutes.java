package orchestrator.gateway.schedules;

import io.javalin.http.Context;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import orchestrator.core.Json;
import orchestrator.core.schedule.ScheduleAction;
import orchestrator.core.schedule.ScheduleControl;
import orchestrator.core.schedule.ScheduleStatus;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /schedules} for any valid token, and {@code POST /schedules/{id}/pause|resume|run} for a token
 * that may act on the schedule's project (what a fire enqueues is a job of that project, so acting on the
 * schedule is acting on its jobs; a schedule without a project needs a {@code *} token, like its jobs).
 * The schedules themselves come from a {@link ScheduleControl} the app wires in: the gateway does not
 * know the scheduler module (DESIGN §1).
 */
public final class ScheduleRoutes {
    private static final Logger log = LoggerFactory.getLogger(ScheduleRoutes.class);

    private final Admission admission;
    private final ScheduleControl schedules;

    /** @param schedules null when this process was started without schedules: every route then answers 503 */
    public ScheduleRoutes(Admission admission, ScheduleControl schedules) {
        this.admission = admission;
        this.schedules = schedules;
    }

    /** {@code GET /schedules}: every schedule file, broken ones too, sorted by file name. */
    public void list(Context ctx) {
        admission.admit(ctx, Admission.Budget.API);
        // an empty list says where this gateway looked (a gateway without the scheduler hosts' files lists none)
        json(ctx, 200, control().listBody());
    }

    public void pause(Context ctx) {
        act(ctx, "pause", (id, by) -> control().pause(id, by)); // control() after admission: 401 before 503
    }

    public void resume(Context ctx) {
        act(ctx, "resume", (id, by) -> control().resume(id, by));
    }

    /** Fires once now, as {@code orchestrator schedules run ID}; the answer names the job it enqueued, if any. */
    public void run(Context ctx) {
        act(ctx, "run", (id, by) -> control().run(id, by));
    }

    private void act(Context ctx, String action, BiFunction<String, String, ScheduleAction> op) {
        ApiToken token = admission.admitToAct(ctx, Admission.Budget.API).token();
        json(ctx, 200, act(ctx.pathParam("id"), token, action, op));
    }

    /** Why the list is empty, naming where this gateway looked; null when this gateway has schedules. */
    public String noneNote() {
        return control().statuses().isEmpty() ? control().noneNote() : null;
    }

    /** Every schedule whose jobs {@code token} may see (the dashboard's list; the API lists all to any token). */
    public List<ScheduleStatus> visible(ApiToken token) {
        return control().statuses().stream().filter(s -> token.sees(s.project())).toList();
    }

    /**
     * {@code pause}, {@code resume} or {@code run} of schedule {@code id} for {@code token}: the code path of the
     * API's routes, for the dashboard's buttons.
     *
     * @throws ApiError 403 for a read-only token or another project's schedule, 404, 409 for a broken schedule
     */
    public Map<String, Object> act(String id, ApiToken token, String action) {
        return switch (action) {
            case "pause" -> act(id, token, action, (i, by) -> control().pause(i, by));
            case "resume" -> act(id, token, action, (i, by) -> control().resume(i, by));
            case "run" -> act(id, token, action, (i, by) -> control().run(i, by));
            default -> throw new ApiError(404, "not_found", "no action '" + action + "'");
        };
    }

    private Map<String, Object> act(String id, ApiToken token, String action, BiFunction<String, String, ScheduleAction> op) {
        Admission.requireMayAct(token);
        ScheduleStatus before = control().statuses().stream().filter(s -> id.equals(s.id())).findFirst()
                .orElseThrow(() -> notFound(id, control().notFound(id)));
        if (!token.sees(before.project())) {
            throw new ApiError(403, "forbidden_project", before.project() == null
                    ? "schedule '" + id + "' enqueues jobs without a project: only a token for every project may " + action + " it"
                    : "this token may not act on schedules of project '" + before.project() + "'");
        }
        ScheduleAction r = op.apply(id, token.name());
        switch (r.kind()) {
            case NOT_FOUND -> throw notFound(id, r.message()); // its file went away in between
            case BROKEN -> throw new ApiError(409, "schedule_broken", r.message()).with("id", id);
            default -> { }
        }
        log.info("schedule {}: {} by token {}: {}", id, action, token.name(), r.message());
        return r.apiBody(id);
    }

    private ScheduleControl control() {
        if (schedules == null) {
            throw new ApiError(503, "schedules_unavailable", "this gateway was started without the schedules");
        }
        return schedules;
    }

    private static ApiError notFound(String id, String message) {
        return new ApiError(404, "not_found", message).with("id", id);
    }

    private static void json(Context ctx, int status, Object body) {
        ctx.status(status).contentType("application/json").result(Json.write(body));
    }
}
