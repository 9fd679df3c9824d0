package orchestrator.app;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "status", mixinStandardHelpOptions = true, description = "Print a job as GET /jobs/{id} shows it (JSON).",
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
final class StatusCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--json", description = "JSON (the default and only format; accepted like every read command's).")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Operations ops = target.open(ctx)) {
            out.println(Json.writePretty(ops.job(jobId)));
            out.flush();
            return ExitCodes.OK;
        }
    }
}
