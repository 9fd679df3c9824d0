package orchestrator.runner;

import java.time.Clock;
import java.util.Map;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.store.JobStore;
import orchestrator.runner.artifact.StoreShipping;
import orchestrator.runner.process.Redactor;

/**
 * What every job run needs, bundled so that a job run has one collaborator instead of seven.
 *
 * @param childEnv the allowlisted part of the runner's environment, the base of every step's environment
 * @param redactor masks the runner's own sensitive values
 * @param versions the runner's cache of agent binaries' versions ({@code MIN_BINARY_VERSIONS})
 * @param shipping what puts the jobs' logs and artifacts into the store for other hosts ({@link StoreShipping#NONE} on SQLite)
 */
record RunnerContext(RunnerConfig config, CoreConfig core, JobStore store, Clock clock, String runnerId,
                     Map<String, String> childEnv, Redactor redactor, VersionCheck versions, StoreShipping shipping) {
}
