package orchestrator.app;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cancel}, {@code approve}, {@code reject}, {@code retry}: one transition each, as {@code POST /jobs/{id}/<action>}. */
final class JobActionCommands {
    private JobActionCommands() {
    }

    abstract static class Action implements Callable<Integer> {
        @Mixin
        Context ctx;

        @Mixin
        Target target;

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "JOB_ID")
        String jobId;

        @Option(names = "--json", description = "Print the API's answer as JSON: {\"job_id\": ..., \"status\": ...}.")
        boolean json;

        abstract String action();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Operations ops = target.open(ctx)) {
                JsonNode r = ops.act(jobId, action());
                out.println(json ? Json.writePretty(r) : "job " + jobId + ": " + r.path("status").asText());
                out.flush();
                return ExitCodes.OK;
            }
        }
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true,
            description = "Cancel a job: a queued or awaiting one at once, a running one at its runner's next heartbeat (its process tree is killed).",
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, "3:state conflict (the job has already ended)",
                    ExitCodes.L_UNAVAILABLE})
    static final class Cancel extends Action {
        @Override
        String action() {
            return "cancel";
        }
    }

    @Command(name = "approve", mixinStandardHelpOptions = true,
            description = "Approve a job awaiting approval (it is queued), or resume one that needs a human.",
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE,
                    "3:state conflict (not awaiting approval or a human)", ExitCodes.L_UNAVAILABLE})
    static final class Approve extends Action {
        @Override
        String action() {
            return "approve";
        }
    }

    @Command(name = "reject", mixinStandardHelpOptions = true,
            description = "Reject a job awaiting approval or a human: it is cancelled.",
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE,
                    "3:state conflict (not awaiting approval or a human)", ExitCodes.L_UNAVAILABLE})
    static final class Reject extends Action {
        @Override
        String action() {
            return "reject";
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Run a failed or cancelled job again from its first step (attempt 1).",
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, "3:state conflict (the job has not failed or been cancelled)",
                    ExitCodes.L_UNAVAILABLE})
    static final class Retry extends Action {
        @Override
        String action() {
            return "retry";
        }
    }
}
