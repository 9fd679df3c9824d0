package orchestrator.app;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "logs", mixinStandardHelpOptions = true,
        description = {"Print a job's step logs, each under a '==> STEP (AGENT) STATUS <==' line, as GET /jobs/{id}/logs.",
                "With -f, keep printing as the runner writes until the job ends (or waits for a human or an approval)."},
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
final class LogsCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = {"-f", "--follow"}, description = "Follow the logs until the job ends.")
    boolean follow;

    @Option(names = "--json", description = "One JSON object a line: {\"step_id\": ..., \"line\": ...}.")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Operations ops = target.open(ctx)) {
            ops.logs(jobId, follow, json ? Operations.LogSink.json(out) : Operations.LogSink.text(out));
            out.flush();
            return ExitCodes.OK;
        }
    }
}
