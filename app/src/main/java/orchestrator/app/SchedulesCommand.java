package orchestrator.app;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.FireResult;
import orchestrator.core.store.JobStore;
import orchestrator.scheduler.ScheduleStatus;
import orchestrator.scheduler.Scheduler;
import orchestrator.scheduler.SchedulerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "schedules", mixinStandardHelpOptions = true,
        description = {"List the schedules with their next fire times, last fire and last job.",
                "`schedules run ID` fires one now. Exit 1 if a schedule file is broken."})
final class SchedulesCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Parameters(arity = "0..2", paramLabel = "run ID", description = "run <id>: fire that schedule now")
    List<String> args;

    @Override
    public Integer call() {
        Env env = ctx.env();
        CoreConfig core = ctx.start(env, null);
        SchedulerConfig config = SchedulerConfig.from(env, core);
        try (JobStore store = ctx.openStore(core);
             Scheduler scheduler = new Scheduler(config, core, store, ctx.clock, Lifecycle.runnerId("cli"))) {
            if (args != null && !args.isEmpty()) {
                if (args.size() != 2 || !args.get(0).equals("run")) {
                    throw new orchestrator.core.OrchestratorException("usage: orchestrator schedules [run <id>]");
                }
                FireResult r = scheduler.runNow(args.get(1));
                System.out.println(args.get(1) + ": " + r.kind().name().toLowerCase(java.util.Locale.ROOT)
                        + (r.jobId() == null ? "" : " job " + r.jobId()));
                return 0;
            }
            List<ScheduleStatus> all = scheduler.statuses();
            if (all.isEmpty()) {
                System.out.println("no schedules in " + config.schedulesDir());
                return 0;
            }
            System.out.printf("%-24s %-18s %-16s %-8s %-62s %s%n", "ID", "SCHEDULE", "TIMEZONE", "ENABLED", "NEXT FIRES", "LAST FIRE / LAST JOB");
            boolean broken = false;
            for (ScheduleStatus s : all) {
                if (s.broken()) {
                    broken = true;
                    System.out.printf("%-24s BROKEN (%s): %s%n", s.id() == null ? "?" : s.id(), s.file().getFileName(), s.error());
                    continue;
                }
                String next = s.nextFireTimes().stream().map(Instant::toString).collect(Collectors.joining(" "));
                String last = s.lastFireTime() == null ? "never" : s.lastFireTime() + " " + s.lastOutcome()
                        + (s.lastJobId() == null ? "" : " " + s.lastJobId() + " " + (s.lastJobState() == null ? "" : s.lastJobState().wire()));
                System.out.printf("%-24s %-18s %-16s %-8s %-62s %s%n", s.id(), s.expression(), s.timezone(), s.enabled() ? "yes" : "no",
                        next.isEmpty() ? "-" : next, last);
            }
            return broken ? 1 : 0;
        }
    }
}
