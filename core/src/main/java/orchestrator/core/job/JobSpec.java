package orchestrator.core.job;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What a client asked for: the validated, normalised job. It is stored whole and is what a
 * runner executes. Every default is already filled in, so no reader needs to know them.
 */
public record JobSpec(String goal, String project, List<Step> steps, Policy policy, int priority, Instant runAt,
                      String idempotencyKey, String concurrencyKey, List<String> tags, Map<String, Object> metadata,
                      String callbackUrl, String artifactHandoff, List<Map<String, Object>> contextWindow,
                      String contextStrategy, String workdir) {
    public static final Set<String> HANDOFFS = Set.of("manual", "patch_first", "workspace_first");
    public static final Set<String> CONTEXT_STRATEGIES = Set.of("full", "summarize", "sliding");

    public JobSpec {
        Objects.requireNonNull(goal, "goal");
        Objects.requireNonNull(steps, "steps");
        if (steps.isEmpty()) {
            throw new IllegalArgumentException("steps must not be empty");
        }
        steps = List.copyOf(steps);
        Set<String> ids = new HashSet<>();
        for (Step s : steps) {
            if (!ids.add(s.stepId())) {
                throw new IllegalArgumentException("step_id '" + s.stepId() + "' is used twice");
            }
        }
        for (Step s : steps) {
            if (s.onFailure().startsWith("goto:") && !ids.contains(s.onFailure().substring(5))) {
                throw new IllegalArgumentException("step '" + s.stepId() + "' has on_failure " + s.onFailure() + " but no such step exists");
            }
        }
        policy = policy == null ? Policy.DEFAULT : policy;
        tags = tags == null ? List.of() : List.copyOf(tags);
        metadata = metadata == null ? Map.of() : metadata;
        artifactHandoff = artifactHandoff == null ? "manual" : artifactHandoff;
        if (!HANDOFFS.contains(artifactHandoff)) {
            throw new IllegalArgumentException("artifact_handoff must be one of " + HANDOFFS);
        }
        contextWindow = contextWindow == null ? List.of() : contextWindow;
        contextStrategy = contextStrategy == null ? "sliding" : contextStrategy;
        if (!CONTEXT_STRATEGIES.contains(contextStrategy)) {
            throw new IllegalArgumentException("context_strategy must be one of " + CONTEXT_STRATEGIES);
        }
    }

    /** The spec with another {@code workdir} (a CLI submission resolves a relative one against its own folder). */
    public JobSpec withWorkdir(String dir) {
        return new JobSpec(goal, project, steps, policy, priority, runAt, idempotencyKey, concurrencyKey, tags, metadata,
                callbackUrl, artifactHandoff, contextWindow, contextStrategy, dir);
    }

    /**
     * The spec as a webhook's job keeps it, as the prototype did: a client's {@code workdir} names a folder
     * on the client's machine, never one of ours, so it is not used; it is kept as
     * {@code metadata.ignored_workdir} so the job still says what was asked.
     */
    public JobSpec withWorkdirIgnored() {
        if (workdir == null) {
            return this;
        }
        Map<String, Object> m = new java.util.LinkedHashMap<>(metadata);
        m.put("ignored_workdir", workdir);
        return new JobSpec(goal, project, steps, policy, priority, runAt, idempotencyKey, concurrencyKey, tags, m,
                callbackUrl, artifactHandoff, contextWindow, contextStrategy, null);
    }

    /** The most steps a job may reach by being continued (a payload may hold up to 50). */
    public static final int MAX_STEPS_CONTINUED = 100;

    /** The spec with {@code added} right after the step {@code afterStepId}: where a continued job goes on. */
    public JobSpec withStepAfter(String afterStepId, Step added) {
        List<Step> next = new java.util.ArrayList<>(steps);
        int at = next.indexOf(step(afterStepId));
        next.add(at < 0 ? next.size() : at + 1, added);
        return new JobSpec(goal, project, next, policy, priority, runAt, idempotencyKey, concurrencyKey, tags, metadata,
                callbackUrl, artifactHandoff, contextWindow, contextStrategy, workdir);
    }

    /** A step id for the next continuation that no step of this job has: continue_1, continue_2, … */
    public String nextContinuationId() {
        for (int n = 1; ; n++) {
            if (step("continue_" + n) == null) {
                return "continue_" + n;
            }
        }
    }

    /** The step with this id, or null. */
    public Step step(String stepId) {
        for (Step s : steps) {
            if (s.stepId().equals(stepId)) {
                return s;
            }
        }
        return null;
    }
}
