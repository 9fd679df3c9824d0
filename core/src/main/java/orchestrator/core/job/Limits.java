package orchestrator.core.job;

/**
 * Resource limits of a step's process, applied as rlimits. A null field means "the runner's
 * default". Values are checked to be positive here so that no later code has to.
 */
public record Limits(Long cpuSec, Long memoryMb, Long maxProcs, Long maxFileMb, Long maxOpenFiles) {
    public static final Limits NONE = new Limits(null, null, null, null, null);

    public Limits {
        positive("cpu_sec", cpuSec);
        positive("memory_mb", memoryMb);
        positive("max_procs", maxProcs);
        positive("max_file_mb", maxFileMb);
        positive("max_open_files", maxOpenFiles);
    }

    private static void positive(String name, Long v) {
        if (v != null && v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /** This step's limits with every unset field taken from {@code fallback}. */
    public Limits orElse(Limits fallback) {
        return new Limits(
                cpuSec != null ? cpuSec : fallback.cpuSec,
                memoryMb != null ? memoryMb : fallback.memoryMb,
                maxProcs != null ? maxProcs : fallback.maxProcs,
                maxFileMb != null ? maxFileMb : fallback.maxFileMb,
                maxOpenFiles != null ? maxOpenFiles : fallback.maxOpenFiles);
    }
}
