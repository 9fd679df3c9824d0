package orchestrator.app;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.RunnerView;
import orchestrator.gateway.runners.RunnerRoutes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "runners", mixinStandardHelpOptions = true,
        description = {"List the registered runners: host, pid, version, slots, running jobs, last heartbeat, live/stale/stopped.",
                "Exit 1 when no live runner takes jobs (queued jobs would wait)."})
final class RunnersCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Option(names = "--json", description = "Print what GET /runners answers, with the running job ids.")
    boolean json;

    @Override
    public Integer call() {
        CoreConfig core = ctx.start(ctx.env(), null);
        Duration stale = core.runnerStaleAfter();
        try (JobStore store = ctx.openStore(core)) {
            List<RunnerView> runners = store.runners();
            Instant now = ctx.clock.instant();
            if (json) {
                System.out.println(Json.writePretty(RunnerRoutes.body(runners, now, stale, true)));
            } else {
                print(runners, now, stale, core);
            }
            return runners.stream().anyMatch(r -> r.takesJobs(now, stale)) ? 0 : 1;
        }
    }

    private static void print(List<RunnerView> runners, Instant now, Duration stale, CoreConfig core) {
        if (runners.isEmpty()) {
            System.out.println("no runners registered in " + core.storeName() + " (start one: orchestrator runner, or orchestrator serve)");
            return;
        }
        // CLOCK (PostgreSQL only): the runner host's clock against the server's at its last heartbeat
        boolean clocks = runners.stream().anyMatch(r -> r.clockSkewMs() != null);
        String format = "%-36s %-20s %-8s %-10s %-16s %5s %7s  " + (clocks ? "%-10s " : "%s") + "%s%n";
        System.out.printf(format, "RUNNER", "HOST", "PID", "VERSION", "STATUS", "SLOTS", "RUNNING", clocks ? "CLOCK" : "", "LAST HEARTBEAT");
        for (RunnerView r : runners) {
            RunnerView.Status s = r.status(now, stale);
            String status = s.wire() + (r.draining() && s == RunnerView.Status.LIVE ? " (draining)" : "");
            String clock = !clocks ? "" : r.clockSkewMs() == null ? "-" : RunnerView.signedMillis(r.clockSkewMs());
            System.out.printf(format, r.runnerId(), r.host(), r.pid(), r.version(), status, r.slots(), r.runningJobs().size(), clock,
                    r.lastHeartbeat() + " (" + r.heartbeatAge(now).toSeconds() + " s ago)");
        }
        Map<RunnerView.Status, Integer> counts = RunnerView.countByStatus(runners, now, stale);
        System.out.printf("%d live, %d stale, %d stopped (stale after %d s without a heartbeat: RUNNER_STALE_SEC)%n",
                counts.get(RunnerView.Status.LIVE), counts.get(RunnerView.Status.STALE), counts.get(RunnerView.Status.STOPPED),
                stale.toSeconds());
    }
}
