package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.testing.TestPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * An idle runner waits; it does not poll. On both stores it leases when the store signals, when a delayed job's
 * run_at comes, or when a job of its own ends; it claims callbacks when one was queued or comes due; it looks for
 * expired leases at the earliest expiry. The runner is given the real store seen through a recorder of the calls
 * it makes, so the test counts what it asked for while it had nothing to do.
 */
class IdleRunnerTest {
    /** How long the delayed job waits: the window in which the runner is idle. */
    private static final Duration DELAY = Duration.ofSeconds(3);

    @TempDir
    Path tmp;
    private HttpServer hook;
    private final List<Instant> hookCalls = new CopyOnWriteArrayList<>();

    /** Each call the runner made to its store: the method's name and when it began. */
    record Call(String method, long nanos) {
    }

    private static JobStore recorded(JobStore real, List<Call> calls) {
        return (JobStore) Proxy.newProxyInstance(JobStore.class.getClassLoader(), new Class<?>[] {JobStore.class}, (p, m, args) -> {
            calls.add(new Call(m.getName(), System.nanoTime()));
            try {
                return m.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private static long count(List<Call> calls, String method, long from, long to) {
        return calls.stream().filter(c -> c.method().equals(method) && c.nanos() >= from && c.nanos() < to).count();
    }

    private static final int CALLBACK_ROUNDS = 8;

    @AfterEach
    void stopHook() {
        if (hook != null) {
            hook.stop(0);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres"})
    void an_idle_runner_makes_no_timed_queries_starts_a_delayed_job_at_its_time_and_sends_a_callback_at_once(String storeKind)
            throws Exception {
        hook = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        hook.createContext("/hook", ex -> {
            hookCalls.add(Instant.now());
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        hook.start();
        Map<String, String> env = new HashMap<>(Map.of("CALLBACK_ALLOW_PRIVATE", "1", "LEASE_TTL_SEC", "30"));
        if (storeKind.equals("postgres")) {
            TestPostgres pg = TestPostgres.shared();
            env.put("DATABASE_URL", pg.url(TestPostgres.databaseOf(pg.newDatabase())));
        }
        List<Call> calls = new CopyOnWriteArrayList<>();
        try (RunnerFixture f = new RunnerFixture(tmp, "{\"noop\": {\"type\": \"simulate\", \"delay_ms\": 0}}", env, Optional.empty(),
                real -> recorded(real, calls)).start()) {
            // warm: the first job pays for class loading
            f.awaitFinal(f.enqueue(oneStep("")), Duration.ofSeconds(60));

            Instant runAt = Instant.now().plus(DELAY).truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
            long from = System.nanoTime();
            long fromWall = System.currentTimeMillis();
            String delayed = f.enqueue(oneStep(",\"run_at\":\"" + runAt + "\""));
            JobView v = f.awaitFinal(delayed, DELAY.plusSeconds(30));
            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            long late = v.startedAt().toEpochMilli() - runAt.toEpochMilli();
            // the window ends just before the lease that took the job (its start is the lease's own time)
            long started = from + Duration.ofMillis(v.startedAt().toEpochMilli() - fromWall - 20).toNanos();
            long leases = count(calls, "lease", from, started);
            long claims = count(calls, "claimCallbacks", from, started);
            long requeues = count(calls, "requeueExpired", from, started);
            System.out.printf("%s: in the %d ms before the delayed job: %d leases, %d callback claims, %d requeue looks; started %d ms after its run_at%n",
                    storeKind, (started - from) / 1_000_000, leases, claims, requeues, late);
            assertThat(v.startedAt()).as("not before its run_at").isAfterOrEqualTo(runAt);
            // a lease on the enqueue's signal, and on SQLite (where any commit moves the counter) perhaps one on the
            // runner's registry write; a lease every 500 ms would be 6 or more
            assertThat(leases).as("leases while the job waited").isLessThanOrEqualTo(2);
            // the timed wake, not the next poll: a poll every 500 ms averages 250 ms late; this allows a loaded machine
            assertThat(late).as("ms from run_at to start").isLessThan(400);
            // claims follow the counter, which moved with the enqueue (and on SQLite a registry write): not every 500 ms
            assertThat(claims).as("callback claims while idle").isLessThanOrEqualTo(2);
            // nothing runs, so the next look is a third of the 30 s TTL away: not every second
            assertThat(requeues).as("requeue looks while idle").isLessThanOrEqualTo(1);

            // a callback is sent when its job ends, not at the loop's next 500 ms tick: the job's end wakes the loop.
            // Ticks would put each one 0-500 ms late, so 8 in a row under 250 ms would be a 1-in-256 chance
            List<Long> sent = new java.util.ArrayList<>();
            for (int i = 0; i < CALLBACK_ROUNDS; i++) {
                String withHook = f.enqueue("{\"goal\":\"g\",\"callback_url\":\"http://127.0.0.1:" + hook.getAddress().getPort()
                        + "/hook\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"noop\",\"prompt\":\"p\"}]}");
                JobView ended = f.awaitFinal(withHook, Duration.ofSeconds(30));
                int n = i + 1;
                RunnerFixture.await("callback " + n, () -> hookCalls.size() >= n, Duration.ofSeconds(10));
                sent.add(hookCalls.get(i).toEpochMilli() - ended.finishedAt().toEpochMilli());
            }
            System.out.printf("%s: callbacks sent %s ms after their jobs ended%n", storeKind, sent);
            assertThat(sent).as("ms from each job's end to its callback").allSatisfy(ms -> assertThat(ms).isLessThan(250));
        }
    }

    private static String oneStep(String more) {
        return "{\"goal\":\"g\"" + more + ",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"noop\",\"prompt\":\"p\"}]}";
    }
}
