package orchestrator.core.store;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;

/** Everything the store knows about a job, as read in one snapshot. */
public record JobView(String id, String project, Source source, JobState state, int attempt, int priority,
                      JobSpec spec, List<StepRecord> steps, Map<String, Object> result, String errorCode,
                      String errorMessage, double costUsd, long tokensIn, long tokensOut, boolean cancelRequested,
                      String leaseOwner, String resumeStep, Instant createdAt, Instant startedAt, Instant finishedAt) {

    /** The same job with these step records. */
    public JobView withSteps(List<StepRecord> records) {
        return new JobView(id, project, source, state, attempt, priority, spec, records, result, errorCode, errorMessage, costUsd,
                tokensIn, tokensOut, cancelRequested, leaseOwner, resumeStep, createdAt, startedAt, finishedAt);
    }

    /**
     * The {@code GET /jobs/{id}} body of DESIGN §4. Steps not yet started are listed as {@code pending}
     * so a client always sees the whole pipeline.
     */
    public Map<String, Object> apiBody() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", id);
        m.put("project", project);
        m.put("source", Map.of("type", source.type(), "meta", source.meta()));
        m.put("status", state.wire());
        m.put("attempt", attempt);
        m.put("cancel_requested", cancelRequested);
        List<Map<String, Object>> st = new ArrayList<>();
        for (int i = 0; i < spec.steps().size(); i++) {
            var s = spec.steps().get(i);
            StepRecord r = steps.stream().filter(x -> x.stepId().equals(s.stepId())).findFirst().orElse(null);
            Map<String, Object> sm = new LinkedHashMap<>();
            sm.put("step_id", s.stepId());
            sm.put("agent", s.agent());
            sm.put("role", s.role());
            if (s.continues() != null) {
                sm.put("continues", s.continues()); // a step added by continue: the chain of runs
            }
            sm.put("status", r == null ? "pending" : r.status());
            sm.put("exit_code", r == null ? null : r.exitCode());
            sm.put("error", r == null || r.errorCode() == null ? null : Map.of("code", r.errorCode(),
                    "message", r.errorMessage() == null ? "" : r.errorMessage()));
            sm.put("started_at", r == null ? null : str(r.startedAt()));
            sm.put("finished_at", r == null ? null : str(r.finishedAt()));
            st.add(sm);
        }
        m.put("steps", st);
        m.put("result", result);
        m.put("error", errorCode == null ? null : Map.of("code", errorCode, "message", errorMessage == null ? "" : errorMessage));
        m.put("cost_usd", costUsd);
        m.put("tokens_in", tokensIn);
        m.put("tokens_out", tokensOut);
        m.put("created_at", str(createdAt));
        m.put("started_at", str(startedAt));
        m.put("finished_at", str(finishedAt));
        return m;
    }

    /**
     * The step a {@code continue} goes on from: for a job waiting for a human, the step that asked; else
     * the last step, in pipeline order, that ran to an end. Null when no step ran.
     */
    public String continuationBase() {
        if (state == JobState.NEEDS_HUMAN && resumeStep != null && spec.step(resumeStep) != null) {
            return resumeStep;
        }
        String base = null;
        for (var s : spec.steps()) {
            for (StepRecord r : steps) {
                if (r.stepId().equals(s.stepId()) && !r.status().equals("pending") && !r.status().equals("running")) {
                    base = s.stepId();
                }
            }
        }
        return base;
    }

    private static String str(Instant t) {
        return t == null ? null : t.toString();
    }
}
