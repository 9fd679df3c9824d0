package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.ScheduleFire;

/** The exactly-once check of an every-second schedule fired by several scheduler processes on one store. */
final class ScheduleFires {
    private ScheduleFires() {
    }

    /**
     * Asserts that {@code scheduleId} has one fire row per second from its first fire to its last, missing only
     * seconds that {@code excused} accepts (an outage); one job per enqueued fire, of source {@code cron}, and no
     * other cron job in the store. Answers the enqueued fires' jobs.
     */
    static List<JobView> eachSecondOnce(JobStore store, String scheduleId, Predicate<Instant> excused) {
        List<ScheduleFire> fires = store.recentFires(scheduleId, 100_000);
        assertThat(fires).as("fires of %s", scheduleId).isNotEmpty();
        TreeSet<Instant> times = fires.stream().map(ScheduleFire::fireTime).collect(Collectors.toCollection(TreeSet::new));
        assertThat(times).as("one row per fire time").hasSameSizeAs(fires);
        List<Instant> missing = new ArrayList<>();
        for (Instant t = times.first(); t.isBefore(times.last()); t = t.plusSeconds(1)) {
            if (!times.contains(t) && !excused.test(t)) {
                missing.add(t);
            }
        }
        assertThat(missing).as("seconds that no scheduler fired (of %s to %s)", times.first(), times.last()).isEmpty();
        List<String> jobIds = fires.stream().filter(f -> "enqueued".equals(f.outcome())).map(ScheduleFire::jobId).toList();
        assertThat(Set.copyOf(jobIds)).as("one job per enqueued fire").hasSameSizeAs(jobIds);
        List<JobView> jobs = new ArrayList<>();
        for (String id : jobIds) {
            JobView v = store.find(id).orElseThrow(() -> new AssertionError("the job of a fire is missing: " + id));
            assertThat(v.source().type()).as(id).isEqualTo("cron");
            jobs.add(v);
        }
        assertThat(PostgresStores.countBySource(store, "cron")).as("cron jobs in the store = enqueued fires").isEqualTo(jobIds.size());
        return jobs;
    }
}
