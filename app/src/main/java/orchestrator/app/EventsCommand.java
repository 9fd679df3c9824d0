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

@Command(name = "events", mixinStandardHelpOptions = true,
        description = "Print a job's audit trail, oldest first: every transition and action with its time, actor and reason.",
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
final class EventsCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "JOB_ID")
    String jobId;

    @Option(names = "--json", description = "Print the API's answer as JSON: {\"events\": [...]}.")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Operations ops = target.open(ctx)) {
            JsonNode events = ops.events(jobId);
            if (json) {
                out.println(Json.writePretty(events));
            } else {
                for (JsonNode e : events.path("events")) {
                    String from = text(e.path("from"));
                    String to = text(e.path("to"));
                    out.printf("%-24s %-28s %-34s %s%n", e.path("at").asText(), e.path("actor").asText(),
                            from == null && to == null ? "-" : (from == null ? "" : from) + " -> " + (to == null ? "" : to),
                            e.path("reason").isNull() ? "" : e.path("reason").asText());
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode() ? null : n.asText();
    }
}
