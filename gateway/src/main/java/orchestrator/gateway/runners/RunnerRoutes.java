package orchestrator.gateway.runners;

import io.javalin.http.Context;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.RunnerView;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;

/**
 * {@code GET /runners}: every registered runner with its status as judged now (live, stale, stopped),
 * for any valid token. A token scoped to some projects sees how many jobs each runner runs but not
 * their ids, which may belong to projects it cannot see.
 */
public final class RunnerRoutes {
    private final Admission admission;
    private final JobStore store;
    private final Clock clock;
    private final Duration staleAfter;

    /** @param staleAfter {@code RUNNER_STALE_SEC} */
    public RunnerRoutes(Admission admission, JobStore store, Clock clock, Duration staleAfter) {
        this.admission = admission;
        this.store = store;
        this.clock = clock;
        this.staleAfter = staleAfter;
    }

    public void list(Context ctx) {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        ctx.status(200).contentType("application/json").result(Json.write(body(store.runners(), clock.instant(), staleAfter,
                token.everyProject())));
    }

    /** The body of {@code GET /runners}, also printed by {@code orchestrator runners --json}. */
    public static Map<String, Object> body(List<RunnerView> runners, Instant now, Duration staleAfter, boolean withJobIds) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (RunnerView r : runners) {
            rows.add(r.apiBody(now, staleAfter, withJobIds));
        }
        Map<String, Object> counts = new LinkedHashMap<>();
        RunnerView.countByStatus(runners, now, staleAfter).forEach((s, n) -> counts.put(s.wire(), n));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("runners", rows);
        body.put("counts", counts);
        body.put("stale_after_seconds", staleAfter.toSeconds());
        return body;
    }
}
