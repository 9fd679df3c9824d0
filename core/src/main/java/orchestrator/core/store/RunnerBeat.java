package orchestrator.core.store;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What a runner writes about itself at each of its registry heartbeats ({@link JobStore#runnerHeartbeat}).
 *
 * @param runnerId    the runner's id, {@code host/instance/pid}
 * @param host        the host it runs on
 * @param pid         its process id
 * @param version     the orchestrator version it runs
 * @param slots       jobs it runs at once ({@code RUNNER_CONCURRENCY}, as of its last reload)
 * @param runningJobs ids of the jobs it runs now
 * @param draining    true once it stopped leasing (SIGTERM): it finishes or releases what it runs, takes nothing new
 * @param startedAt   when this run of the runner started: identifies the run, so a restart under the same id is a new one
 */
public record RunnerBeat(String runnerId, String host, long pid, String version, int slots, List<String> runningJobs,
                         boolean draining, Instant startedAt) {
    public RunnerBeat {
        Objects.requireNonNull(runnerId, "runnerId");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(startedAt, "startedAt");
        runningJobs = List.copyOf(runningJobs);
        if (slots < 0) {
            throw new IllegalArgumentException("slots must not be negative, got " + slots);
        }
    }
}
