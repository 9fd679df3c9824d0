package orchestrator.app;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import orchestrator.core.job.JobSpecParser;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "continue", mixinStandardHelpOptions = true,
        description = {"Continue a finished or needs_human job: a follow-up step with PROMPT runs in the job's workspace with the"
                + " same agent, resuming its session where the CLI can. As POST /jobs/{id}/continue; prints its answer (JSON)."},
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {"0:queued", ExitCodes.L_NOT_FOUND, "2:usage error (an empty or too long PROMPT, a token the gateway refused)",
                "3:state conflict (queued, running or awaiting approval)", ExitCodes.L_UNAVAILABLE})
final class ContinueCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "JOB_ID")
    String jobId;

    @Parameters(index = "1", paramLabel = "PROMPT", description = "What the agent should do next.")
    String prompt;

    @Override
    public Integer call() {
        if (prompt.isBlank() || prompt.length() > JobSpecParser.MAX_PROMPT) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "PROMPT must be 1 to " + JobSpecParser.MAX_PROMPT + " characters");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Operations ops = target.open(ctx)) {
            out.println(Json.writePretty(ops.continueJob(jobId, prompt)));
            out.flush();
            return ExitCodes.OK;
        }
    }
}
