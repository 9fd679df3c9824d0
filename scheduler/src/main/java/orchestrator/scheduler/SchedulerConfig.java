package orchestrator.scheduler;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Objects;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;

/**
 * The scheduler's settings.
 *
 * @param schedulesDir {@code SCHEDULES_DIR}: the folder of {@code *.json} schedule files, default
 *                     {@code $ORCH_HOME/schedules}. It may be missing (no schedules) but must not be a file.
 */
public record SchedulerConfig(Path schedulesDir) {
    public static final String SCHEDULES_DIR = "SCHEDULES_DIR";
    public static final String DEFAULT_SCHEDULES_SUBDIR = "schedules";

    public SchedulerConfig {
        Objects.requireNonNull(schedulesDir, "schedulesDir");
        if (Files.exists(schedulesDir) && !Files.isDirectory(schedulesDir)) {
            throw new ConfigException(SCHEDULES_DIR, schedulesDir + " exists but is not a directory");
        }
    }

    public static SchedulerConfig from(Env env, CoreConfig core) {
        String value = env.get(SCHEDULES_DIR);
        if (value == null) {
            return new SchedulerConfig(core.home().resolve(DEFAULT_SCHEDULES_SUBDIR));
        }
        Path dir;
        try {
            dir = Path.of(value).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new ConfigException(SCHEDULES_DIR, "is not a valid path: " + e.getMessage());
        }
        return new SchedulerConfig(dir);
    }
}
