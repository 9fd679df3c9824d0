package orchestrator.app;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import orchestrator.core.store.JobQuery;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"List jobs, newest first, as GET /jobs. A full page ends with 'more: --cursor C': pass it (with the same"
                + " filters) for the next page."},
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
final class ListCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Option(names = "--state", paramLabel = "STATE", description = "Only jobs in this state (queued, running, succeeded, …).")
    String state;

    @Option(names = "--project", paramLabel = "PROJECT", description = "Only jobs of this project.")
    String project;

    @Option(names = "--tag", paramLabel = "TAG", description = "Only jobs with this tag.")
    String tag;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "50", description = "At most N jobs (1 to 500; default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--cursor", paramLabel = "CURSOR", description = "The next page: the cursor the previous page printed.")
    String cursor;

    @Option(names = "--json", description = "Print the API's answer as JSON: {\"jobs\": [...], \"next_cursor\": ...}.")
    boolean json;

    @Override
    public Integer call() {
        if (limit < 1 || limit > JobQuery.MAX_LIMIT) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "--limit must be between 1 and " + JobQuery.MAX_LIMIT);
        }
        if (state != null) {
            StoreOperations.parseState(state);
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Operations ops = target.open(ctx)) {
            JsonNode page = ops.jobs(state, project, tag, limit, cursor);
            if (json) {
                out.println(Json.writePretty(page));
            } else {
                out.printf("%-34s %-18s %-12s %-24s %s%n", "JOB_ID", "STATUS", "PROJECT", "CREATED", "SOURCE");
                for (JsonNode j : page.path("jobs")) {
                    out.printf("%-34s %-18s %-12s %-24s %s%n", j.path("job_id").asText(), j.path("status").asText(),
                            j.path("project").isNull() ? "-" : j.path("project").asText(), j.path("created_at").asText(),
                            j.path("source").path("type").asText());
                }
                String next = page.path("next_cursor").isTextual() ? page.path("next_cursor").asText() : null;
                if (next != null) {
                    out.println("more: --cursor " + next);
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }
}
