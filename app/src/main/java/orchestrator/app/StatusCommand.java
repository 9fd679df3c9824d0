package orchestrator.app;

import java.util.concurrent.Callable;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "status", mixinStandardHelpOptions = true, description = "Print a job as GET /jobs/{id} shows it. Exit 1 if there is no such job.")
final class StatusCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Override
    public Integer call() {
        CoreConfig core = ctx.start(ctx.env(), null);
        try (JobStore store = ctx.openStore(core)) {
            JobView v = store.find(jobId).orElse(null);
            if (v == null) {
                System.err.println("orchestrator: no job " + jobId);
                return 1;
            }
            System.out.println(Json.writePretty(v.apiBody()));
            return 0;
        }
    }
}
