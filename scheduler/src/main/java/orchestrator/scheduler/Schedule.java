package orchestrator.scheduler;

import java.nio.file.Path;
import java.util.Objects;
import orchestrator.core.job.JobSpec;

/** A valid schedule file: when to fire and the job each fire enqueues. */
record Schedule(String id, Path file, boolean enabled, FireTimes fireTimes, MisfirePolicy misfire,
                OverlapPolicy overlap, int maxCatchUp, JobSpec spec) {
    static final int DEFAULT_MAX_CATCH_UP = 10;
    /** A bound so that one tick after a long downtime stays short. */
    static final int MAX_MAX_CATCH_UP = 1000;

    Schedule {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(fireTimes, "fireTimes");
        Objects.requireNonNull(misfire, "misfire");
        Objects.requireNonNull(overlap, "overlap");
        Objects.requireNonNull(spec, "spec");
        if (maxCatchUp < 1 || maxCatchUp > MAX_MAX_CATCH_UP) {
            throw new IllegalArgumentException("max_catch_up must be between 1 and " + MAX_MAX_CATCH_UP);
        }
    }
}
