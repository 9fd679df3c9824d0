package orchestrator.core.store;

import java.util.Objects;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.Source;

/** A job to enqueue; {@code actor} is who asked (a token's name, "cli", "scheduler"), recorded in the audit log. */
public record NewJob(JobSpec spec, Source source, String actor) {
    public NewJob {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(actor, "actor");
    }
}
