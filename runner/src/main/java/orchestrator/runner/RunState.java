package orchestrator.runner;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.Step;
import orchestrator.runner.artifact.JobArtifacts;

/**
 * The job's {@code state.json}, as the prototype kept it: the step running now and each step's
 * status in the prototype's words ({@code pending}, {@code running}, then the step result's status),
 * rewritten atomically at every change so a reader never sees half a file. Owned by the job's worker.
 */
final class RunState {
    private final Path file;
    private final String jobId;
    private final int attempt;
    private final Clock clock;
    private final Map<String, String> steps = new LinkedHashMap<>();
    private String status = "running";
    private String currentStep;

    RunState(Path file, String jobId, int attempt, List<Step> pipeline, Iterable<StepResult> earlier, Clock clock) {
        this.file = file;
        this.jobId = jobId;
        this.attempt = attempt;
        this.clock = clock;
        pipeline.forEach(s -> steps.put(s.stepId(), "pending"));
        earlier.forEach(r -> steps.put(r.stepId(), r.schemaStatus()));
    }

    void started(String stepId) throws IOException {
        currentStep = stepId;
        steps.put(stepId, "running");
        write();
    }

    void ended(StepResult r) throws IOException {
        steps.put(r.stepId(), r.schemaStatus());
        write();
    }

    /** The job's end, in the prototype's words (success, failed, timeout, cancelled, needs_human). */
    void finished(String schemaStatus) throws IOException {
        status = schemaStatus;
        currentStep = null;
        write();
    }

    void write() throws IOException {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("schema_version", StepResult.SCHEMA_VERSION);
        d.put("job_id", jobId);
        d.put("status", status);
        d.put("current_step", currentStep);
        d.put("attempt", attempt);
        d.put("steps", steps);
        d.put("updated_at", clock.instant().toString());
        JobArtifacts.writeAtomically(file, Json.writePretty(d));
    }
}
