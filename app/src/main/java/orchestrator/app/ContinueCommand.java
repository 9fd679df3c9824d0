package orchestrator.app;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "continue", mixinStandardHelpOptions = true,
        description = {"Continue a finished or needs_human job: a follow-up step with PROMPT runs in the job's workspace with the"
                + " same agent, resuming its session where the CLI can. As POST /jobs/{id}/continue.",
                "Exit 0 when queued, 1 if there is no such job, 3 if its state does not allow it (queued, running, awaiting approval)."})
final class ContinueCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Parameters(index = "0", paramLabel = "JOB_ID")
    String jobId;

    @Parameters(index = "1", paramLabel = "PROMPT", description = "What the agent should do next.")
    String prompt;

    @Override
    public Integer call() {
        if (prompt.isBlank() || prompt.length() > JobSpecParser.MAX_PROMPT) {
            System.err.println("orchestrator: PROMPT must be 1 to " + JobSpecParser.MAX_PROMPT + " characters");
            return 2;
        }
        CoreConfig core = ctx.start(ctx.env(), null);
        try (JobStore store = ctx.openStore(core)) {
            ActionResult r = store.continueJob(jobId, prompt, "cli:" + System.getProperty("user.name", "operator"));
            switch (r.kind()) {
                case NOT_FOUND -> {
                    System.err.println("orchestrator: no job " + jobId);
                    return 1;
                }
                case CONFLICT -> {
                    System.err.println("orchestrator: " + r.message());
                    return 3;
                }
                default -> {
                    JobView v = store.find(jobId).orElseThrow();
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("job_id", jobId);
                    out.put("status", r.state().wire());
                    out.put("step_id", v.resumeStep());
                    out.put("continues", v.spec().step(v.resumeStep()).continues());
                    System.out.println(Json.writePretty(out));
                    return 0;
                }
            }
        }
    }
}
