package orchestrator.runner;

import java.io.IOException;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.Step;

/**
 * The job's {@code state.json}, as the prototype kept it: the step running now and each step's
 * status in the prototype's words ({@code pending}, {@code running}, then the step result's status),
 * written atomically so a reader never sees half a file. Owned by the job's worker.
 *
 * <p>Writes are coalesced, not dropped: a change that the next one follows at once is written with
 * it. The pipeline before the first step starts is written with that start, and a step's end with
 * the next step's start or the job's end ({@link #flush} where the job stops otherwise). Each write
 * is a new file renamed over the last one, which frees an inode: a one-step job now writes the file
 * twice instead of four times (docs/PERFORMANCE.md, session 5).
 */
final class RunState {
    /** Where the document goes: an atomic write of the text, masked by the job's redactor. */
    interface Sink {
        void write(String text) throws IOException;
    }

    private final Sink sink;
    private final String jobId;
    private final int attempt;
    private final Clock clock;
    private final Map<String, String> steps = new LinkedHashMap<>();
    private String status = "running";
    private String currentStep;
    /** A change not written yet. */
    private boolean dirty = true;

    RunState(Sink sink, String jobId, int attempt, List<Step> pipeline, Iterable<StepResult> earlier, Clock clock) {
        this.sink = sink;
        this.jobId = jobId;
        this.attempt = attempt;
        this.clock = clock;
        pipeline.forEach(s -> steps.put(s.stepId(), "pending"));
        earlier.forEach(r -> steps.put(r.stepId(), r.schemaStatus()));
    }

    /** Written at once: a reader must see the step that runs now while it runs. */
    void started(String stepId) throws IOException {
        currentStep = stepId;
        steps.put(stepId, "running");
        write();
    }

    /** Written with what follows: the next step's start, the job's end, or {@link #flush}. */
    void ended(StepResult r) {
        steps.put(r.stepId(), r.schemaStatus());
        dirty = true;
    }

    /** The job's end, in the prototype's words (success, failed, timeout, cancelled, needs_human). */
    void finished(String schemaStatus) throws IOException {
        status = schemaStatus;
        currentStep = null;
        write();
    }

    /** Writes a change not written yet: where the job stops without {@link #finished}. */
    void flush() throws IOException {
        if (dirty) {
            write();
        }
    }

    private void write() throws IOException {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("schema_version", StepResult.SCHEMA_VERSION);
        d.put("job_id", jobId);
        d.put("status", status);
        d.put("current_step", currentStep);
        d.put("attempt", attempt);
        d.put("steps", steps);
        d.put("updated_at", clock.instant().toString());
        sink.write(Json.writePretty(d));
        dirty = false;
    }
}
