package orchestrator.app;

import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.gateway.GatewayConfig;
import orchestrator.runner.RunnerConfig;
import orchestrator.scheduler.SchedulerConfig;

/** Every module's configuration, read and validated together: what {@code config check} and {@code doctor} inspect. */
record AllSettings(CoreConfig core, GatewayConfig gateway, RunnerConfig runner, SchedulerConfig scheduler, Logging.Settings logging) {
    static AllSettings from(Env env) {
        CoreConfig core = CoreConfig.from(env);
        return new AllSettings(core, GatewayConfig.from(env, core), RunnerConfig.from(env), SchedulerConfig.from(env, core),
                Logging.Settings.from(env));
    }
}
