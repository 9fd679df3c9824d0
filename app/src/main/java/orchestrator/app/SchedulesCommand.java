package orchestrator.app;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "schedules", mixinStandardHelpOptions = true,
        description = {"List the schedules with their next fire times, pause, last fires and their jobs (as GET /schedules).",
                "`schedules pause ID` / `resume ID` hold and release a schedule for every scheduler process (kept in the store);"
                        + " `schedules run ID` fires one now, paused or not."},
        subcommands = {SchedulesCommand.ListSchedules.class, SchedulesCommand.Pause.class, SchedulesCommand.Resume.class,
                SchedulesCommand.Run.class},
        exitCodeListHeading = ExitCodes.HEADING,
        exitCodeList = {ExitCodes.L_OK, "1:a schedule file is broken", ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
final class SchedulesCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print the API's answer as JSON: {\"schedules\": [...]}.")
    boolean json;

    @Override
    public Integer call() {
        return list(ctx, target, json, spec.commandLine().getOut());
    }

    static int list(Context ctx, Target target, boolean json, PrintWriter out) {
        try (Operations ops = target.open(ctx)) {
            JsonNode all = ops.schedules();
            boolean broken = false;
            if (json) {
                out.println(Json.writePretty(all));
                for (JsonNode s : all.path("schedules")) {
                    broken |= !s.path("error").isNull();
                }
            } else if (all.path("schedules").isEmpty()) {
                out.println(all.path("note").asText("no schedules"));
            } else {
                out.printf("%-24s %-18s %-16s %-8s %-8s %-62s %s%n", "ID", "SCHEDULE", "TIMEZONE", "ENABLED", "PAUSED", "NEXT FIRES",
                        "LAST FIRE / LAST JOB");
                for (JsonNode s : all.path("schedules")) {
                    if (!s.path("error").isNull()) {
                        broken = true;
                        out.printf("%-24s BROKEN (%s): %s%n", s.path("id").isNull() ? "?" : s.path("id").asText(), s.path("file").asText(),
                                s.path("error").asText());
                        continue;
                    }
                    List<String> next = new ArrayList<>();
                    s.path("next_fire_times").forEach(t -> next.add(t.asText()));
                    JsonNode last = s.path("last_fires").path(0);
                    String lastText = last.isMissingNode() ? "never" : last.path("fire_time").asText() + " " + last.path("outcome").asText()
                            + (last.path("reason").isNull() ? "" : " (" + last.path("reason").asText() + ")")
                            + (last.path("job_id").isNull() ? "" : " " + last.path("job_id").asText() + " " + last.path("job_status").asText(""));
                    out.printf("%-24s %-18s %-16s %-8s %-8s %-62s %s%n", s.path("id").asText(), s.path("cron").asText(),
                            s.path("timezone").asText(), s.path("enabled").asBoolean() ? "yes" : "no",
                            s.path("paused").asBoolean() ? "yes" : "no", next.isEmpty() ? "-" : String.join(" ", next), lastText);
                }
            }
            out.flush();
            return broken ? 1 : ExitCodes.OK;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the schedules (the same as `schedules` alone).",
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, "1:a schedule file is broken", ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
    static final class ListSchedules implements Callable<Integer> {
        @Mixin
        Context ctx;

        @Mixin
        Target target;

        @Spec
        CommandSpec spec;

        @Option(names = "--json", description = "Print the API's answer as JSON: {\"schedules\": [...]}.")
        boolean json;

        @Override
        public Integer call() {
            return list(ctx, target, json, spec.commandLine().getOut());
        }
    }

    abstract static class Action implements Callable<Integer> {
        @Mixin
        Context ctx;

        @Mixin
        Target target;

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "ID", description = "The schedule id.")
        String id;

        @Option(names = "--json", description = "Print the API's answer as JSON.")
        boolean json;

        abstract String action();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Operations ops = target.open(ctx)) {
                JsonNode r = ops.scheduleAction(id, action());
                out.println(json ? Json.writePretty(r) : r.path("message").asText());
                out.flush();
                return ExitCodes.OK;
            }
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = {"Pause a schedule in every scheduler process, across restarts: its fire times are recorded as skipped.",
                    "Pausing a paused schedule changes nothing (exit 0)."},
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
    static final class Pause extends Action {
        @Override
        String action() {
            return "pause";
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = {"Resume a paused schedule. No burst of the skipped fires: only misfire run_once or catch_up makes up"
                    + " for them, with one fire at the resume."},
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, ExitCodes.L_UNAVAILABLE})
    static final class Resume extends Action {
        @Override
        String action() {
            return "resume";
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Fire a schedule once now, whether enabled, paused or due (overlap=skip_if_running still applies).",
            exitCodeListHeading = ExitCodes.HEADING,
            exitCodeList = {ExitCodes.L_OK, ExitCodes.L_NOT_FOUND, ExitCodes.L_USAGE, "3:state conflict (the schedule file is broken)",
                    ExitCodes.L_UNAVAILABLE})
    static final class Run extends Action {
        @Override
        String action() {
            return "run";
        }
    }
}
