package orchestrator.runner.agent;

import java.nio.file.Path;

/** The values an agent's argv may name as {@code {prompt_file}}, {@code {workdir}}, {@code {job_id}}, {@code {step_id}}, {@code {artifacts_dir}}. */
public record StepContext(Path promptFile, Path workdir, String jobId, String stepId, Path artifactsDir) {
}
