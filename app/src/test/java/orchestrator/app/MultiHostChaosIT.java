package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several hosts on one PostgreSQL store, as separate processes with an {@code ORCH_HOME} each (no shared disk):
 * two gateways, three runners, two schedulers with the same schedule file. 5,000 jobs are posted through the
 * gateways (mostly a short command; every 25th prints log lines over a few hundred ms and writes a file into its artifacts)
 * while runners are SIGKILLed and restarted, a gateway and a scheduler are killed and restarted, and the
 * PostgreSQL server is stopped and started once. At the end: every job a gateway answered 2xx for is final,
 * succeeded, with one final transition; its command ran once (more only for a job that lost a lease, at most
 * once per attempt); no step process is left; every sampled job's logs and artifacts are served by a gateway
 * whose {@code ORCH_HOME} is not the runner's; and the schedule fired each second once, with one job per fire.
 */
@Tag("slow")
class MultiHostChaosIT {
    private static final int JOBS = 5000;
    private static final int RUNNERS = 3;
    private static final int LOG_JOB_EVERY = 25;
    private static final String TOKEN = "multihost-token-0123456789abcdef012345";
    private static final Duration DEADLINE = Duration.ofMinutes(6);
    /** No progress for this long (no post accepted, no job ended) fails the test at once, naming what is stuck. */
    private static final Duration STALL = Duration.ofSeconds(90);

    @TempDir
    Path root;

    @Test
    void jobs_survive_killed_runners_a_restarted_gateway_and_a_restarted_postgres() throws Exception {
        long seed = Long.getLong("chaos.seed", System.nanoTime());
        Random random = new Random(seed);
        try (TestPostgres pg = new TestPostgres()) {
            String database = TestPostgres.databaseOf(pg.newDatabase());
            Map<String, String> common = new HashMap<>(Map.of("DATABASE_URL", pg.url(database), "WEBHOOK_TOKEN", TOKEN,
                    "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0", "RUNNER_CONCURRENCY", "4", "LEASE_TTL_SEC", "3",
                    "MAX_LEASE_ATTEMPTS", "20", "RUNNER_DRAIN_GRACE_SEC", "5", "READY_REQUIRES_RUNNER", "0"));
            try (Hosts hosts = new Hosts(root, common); JobStore store = PostgresStores.open(pg.url(database))) {
                new Run(hosts, store, pg, random, seed).go();
            }
        }
    }

    /** One run of the test: the processes, what was accepted, and the checks. */
    private final class Run {
        final Hosts hosts;
        final JobStore store;
        final TestPostgres pg;
        final Random random;
        final long seed;
        final String[] gatewayHosts = {"gateway-a", "gateway-b"};
        final int[] ports = new int[2];
        final OrchestratorProcess[] gateways = new OrchestratorProcess[2];
        final OrchestratorProcess[] runners = new OrchestratorProcess[RUNNERS];
        final OrchestratorProcess[] schedulers = new OrchestratorProcess[2];
        /** idempotency key -> job id, for every 2xx answer */
        final Map<String, String> accepted = new ConcurrentHashMap<>();
        final Set<String> logJobs = ConcurrentHashMap.newKeySet();
        final AtomicInteger refusals = new AtomicInteger();
        final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        Instant outageStart;
        Instant outageEnd;

        Run(Hosts hosts, JobStore store, TestPostgres pg, Random random, long seed) {
            this.hosts = hosts;
            this.store = store;
            this.pg = pg;
            this.random = random;
            this.seed = seed;
        }

        final long t0 = System.nanoTime();

        /** A phase's end on the test's output, with the time since the start: where a slow run spent it. */
        void phase(String what) {
            System.out.printf("chaos: %s at %.1f s (seed %d)%n", what, (System.nanoTime() - t0) / 1e9, seed);
        }

        void go() throws Exception {
            for (int g = 0; g < 2; g++) {
                ports[g] = Hosts.freePort();
                writeAgents(gatewayHosts[g]);
                gateways[g] = startGateway(g);
            }
            for (int g = 0; g < 2; g++) {
                gateways[g].awaitOutput("gateway ready", Duration.ofSeconds(90));
            }
            for (int i = 0; i < RUNNERS; i++) {
                writeAgents(runnerHost(i));
                runners[i] = startRunner(i);
            }
            for (int s = 0; s < 2; s++) {
                String host = "scheduler-" + (s + 1);
                writeAgents(host);
                Files.createDirectories(hosts.home(host).resolve("schedules"));
                // the same file on both hosts: each due second must fire once between them
                Files.writeString(hosts.home(host).resolve("schedules/tick.json"), "{\"id\": \"tick\", \"schedule\": \"* * * * * *\","
                        + " \"misfire\": \"skip\", \"payload\": {\"goal\": \"tick\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"fast\","
                        + " \"prompt\": \"x\"}]}}");
                schedulers[s] = hosts.start(host, agentsOf(host), "scheduler");
            }
            phase("processes started");
            ExecutorService posters = Executors.newFixedThreadPool(16);
            try {
                List<Future<?>> posts = new ArrayList<>();
                for (int p = 0; p < 16; p++) {
                    int part = p;
                    posts.add(posters.submit(() -> {
                        post(part, 16);
                        return null;
                    }));
                }
                chaos(posts);
                for (Future<?> f : posts) {
                    f.get();
                }
                phase("all " + JOBS + " posted and the chaos done (" + refusals.get() + " 503s)");
            } finally {
                posters.shutdownNow();
            }
            Instant schedulesStopped = stopSchedulers();
            awaitAllFinal();
            phase("every job final");
            checkJobs();
            phase("jobs checked");
            checkNoProcessLeft();
            phase("no process left");
            checkLogsAndArtifacts();
            phase("logs and artifacts checked");
            checkSchedule(schedulesStopped);
            phase("schedule checked");
        }

        String runnerHost(int i) {
            return "runner-" + (i + 1);
        }

        /** Each host's own agents file: a runner's command appends the job id to a file in that runner's home. */
        void writeAgents(String host) throws IOException {
            Path home = hosts.home(host);
            Path ran = home.resolve("ran.txt");
            Files.writeString(home.resolve("agents.json"), Json.write(Map.of(
                    "fast", Map.of("type", "command", "argv", List.of("sh", "-c", "echo {job_id} >> " + ran)),
                    "logs", Map.of("type", "command", "argv", List.of("sh", "-c",
                            "for i in 1 2 3 4 5 6; do echo \"line $i of {job_id}\"; sleep 0.05; done;"
                                    + " echo 'made by {job_id}' > {artifacts_dir}/out.txt; echo {job_id} >> " + ran)))));
        }

        Map<String, String> agentsOf(String host) {
            return Map.of("AGENTS_FILE", hosts.home(host).resolve("agents.json").toString());
        }

        OrchestratorProcess startGateway(int g) throws IOException {
            Map<String, String> env = new HashMap<>(agentsOf(gatewayHosts[g]));
            env.put("HTTP_PORT", String.valueOf(ports[g]));
            return hosts.start(gatewayHosts[g], env, "gateway", "--no-runners");
        }

        /** Lines of runner host {@code i}'s ran.txt when its process last started. */
        final long[] ranAtStart = new long[RUNNERS];

        long ranLines(int i) throws IOException {
            Path f = hosts.home(runnerHost(i)).resolve("ran.txt");
            if (!Files.exists(f)) {
                return 0;
            }
            try (var lines = Files.lines(f)) {
                return lines.count();
            }
        }

        OrchestratorProcess startRunner(int i) throws IOException {
            return hosts.start(runnerHost(i), agentsOf(runnerHost(i)), "runner", "--instance", "1");
        }

        /** Posts jobs part, part+step, …; each retried with its key until a gateway answers 2xx (a restart, the outage). */
        void post(int part, int step) throws InterruptedException {
            for (int i = part; i < JOBS; i += step) {
                String key = "mh-" + i;
                boolean logs = i % LOG_JOB_EVERY == 0;
                String body = "{\"goal\":\"job " + i + "\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"" + (logs ? "logs" : "fast")
                        + "\",\"prompt\":\"x\"}]}";
                int g = i % 2;
                while (true) {
                    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[g] + "/webhook"))
                            .timeout(Duration.ofSeconds(20)).header("Authorization", "Bearer " + TOKEN)
                            .header("Content-Type", "application/json").header("Idempotency-Key", key)
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                    try {
                        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 202 || r.statusCode() == 200) {
                            String id = Json.parse(r.body()).get("job_id").asText();
                            String before = accepted.putIfAbsent(key, id);
                            if (before != null && !before.equals(id)) {
                                throw new AssertionError("key " + key + " answered job " + id + " after " + before);
                            }
                            if (logs) {
                                logJobs.add(id);
                            }
                            break;
                        }
                        if (r.statusCode() != 503) {
                            throw new AssertionError("POST /webhook for " + key + " answered " + r.statusCode() + ": " + r.body());
                        }
                        refusals.incrementAndGet();
                    } catch (IOException e) {
                        // this gateway is down for its restart: the other one takes the retry
                    }
                    g = 1 - g;
                    Waits.pause();
                }
            }
        }

        /**
         * While jobs come in and run: every 0.3-1.5 s SIGKILL a random runner and start it again; once past a
         * third of the posts kill and restart gateway A and scheduler 1; past 60 % stop PostgreSQL for 2 s.
         */
        void chaos(List<Future<?>> posts) throws Exception {
            int kills = 0;
            boolean gatewayRestarted = false;
            boolean pgRestarted = false;
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            int lastAccepted = -1;
            long lastProgress = System.nanoTime();
            while (!(posts.stream().allMatch(Future::isDone) && kills >= 8 && gatewayRestarted && pgRestarted)) {
                for (Future<?> f : posts) {
                    if (f.isDone()) {
                        f.get(); // a poster's AssertionError (an unexpected answer) ends the test now, with its message
                    }
                }
                if (accepted.size() > lastAccepted) {
                    lastAccepted = accepted.size();
                    lastProgress = System.nanoTime();
                }
                if (System.nanoTime() > deadline || System.nanoTime() - lastProgress > STALL.toNanos()) {
                    throw new AssertionError("posting stalled or did not end within " + DEADLINE + " (seed " + seed + "): "
                            + accepted.size() + " accepted, " + refusals.get() + " 503s" + hosts.outputs(2000));
                }
                revive();
                long pauseUntil = System.nanoTime() + Duration.ofMillis(300 + random.nextInt(1200)).toNanos();
                Waits.until("the next chaos moment", Duration.ofSeconds(5), () -> System.nanoTime() >= pauseUntil);
                int victim = random.nextInt(RUNNERS);
                // only a runner that has run a job since it started: one still starting holds no lease, and a kill
                // of it (on a quiet machine runners start slower than the kills come) would prove nothing
                if (kills < 12 && ranLines(victim) > ranAtStart[victim]) {
                    runners[victim].kill();
                    kills++;
                    ranAtStart[victim] = ranLines(victim);
                    runners[victim] = startRunner(victim);
                }
                if (!gatewayRestarted && accepted.size() > JOBS / 3) {
                    gateways[0].kill();
                    schedulers[0].kill();
                    gateways[0] = startGateway(0);
                    schedulers[0] = hosts.start("scheduler-1", agentsOf("scheduler-1"), "scheduler");
                    gatewayRestarted = true;
                }
                if (!pgRestarted && accepted.size() > JOBS * 6 / 10) {
                    outageStart = Instant.now();
                    pg.stop();
                    long back = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                    Waits.until("the end of the PostgreSQL outage", Duration.ofSeconds(5), () -> System.nanoTime() >= back);
                    pg.start();
                    outageEnd = Instant.now();
                    pgRestarted = true;
                }
            }
        }

        /**
         * What systemd's {@code Restart=always} does for the services: a process that exited because the store was
         * away when it started (exit 4, e.g. restarted just before the PostgreSQL outage) is started again.
         */
        void revive() throws IOException {
            for (int g = 0; g < 2; g++) {
                if (endedUnavailable(gateways[g])) {
                    gateways[g] = startGateway(g);
                }
            }
            for (int i = 0; i < RUNNERS; i++) {
                if (endedUnavailable(runners[i])) {
                    runners[i] = startRunner(i);
                }
            }
            for (int s = 0; s < 2; s++) {
                if (endedUnavailable(schedulers[s])) {
                    String host = "scheduler-" + (s + 1);
                    schedulers[s] = hosts.start(host, agentsOf(host), "scheduler");
                }
            }
        }

        private static boolean endedUnavailable(OrchestratorProcess p) {
            Integer code = p.exitCode();
            if (code == null) {
                return false;
            }
            assertThat(code).as("a process ended by itself, not for an unreachable store:\n%s", p.output()).isEqualTo(ExitCodes.UNAVAILABLE);
            return true;
        }

        /** Stops both schedulers (SIGTERM) so that the set of fires is fixed; answers when. */
        Instant stopSchedulers() throws InterruptedException, IOException {
            revive();
            for (OrchestratorProcess s : schedulers) {
                int code = s.terminate(Duration.ofSeconds(30));
                assertThat(code).as("a scheduler's exit code on SIGTERM:\n%s", s.output()).isIn(0, 143);
            }
            return Instant.now();
        }

        /** Waits for every job in the store to be final; on the deadline names the ones that are not, with their events. */
        void awaitAllFinal() {
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            long lastOpen = Long.MAX_VALUE;
            long lastProgress = System.nanoTime();
            while (true) {
                Map<JobState, Long> c = store.countByState();
                long open = c.entrySet().stream().filter(e -> !e.getKey().isFinal()).mapToLong(Map.Entry::getValue).sum();
                if (open == 0 && c.getOrDefault(JobState.FAILED, 0L) + c.getOrDefault(JobState.CANCELLED, 0L) == 0) {
                    return;
                }
                if (open < lastOpen) {
                    lastOpen = open;
                    lastProgress = System.nanoTime();
                }
                // stuck rather than slow: no job ended for STALL; say which are open instead of waiting for the deadline
                boolean stalled = System.nanoTime() - lastProgress > STALL.toNanos();
                if (open == 0 || stalled || System.nanoTime() > deadline) {
                    StringBuilder sb = new StringBuilder("jobs not succeeded (seed " + seed + ")" + (stalled ? ", none ended for " + STALL : "")
                            + ", counts " + c + ":");
                    for (JobState st : JobState.values()) {
                        if (st != JobState.SUCCEEDED) {
                            store.page(new orchestrator.core.store.JobQuery(null, true, st, 10)).jobs()
                                    .forEach(v -> sb.append("\n  ").append(describe(v)));
                        }
                    }
                    throw new AssertionError(sb + hosts.outputs(3000));
                }
                Waits.pause();
            }
        }

        String describe(JobView v) {
            return v.id() + " " + v.state() + " attempt " + v.attempt() + " owner " + v.leaseOwner() + " error " + v.errorCode() + " "
                    + v.errorMessage() + " events " + store.events(v.id()).stream()
                    .map(e -> e.actor() + ":" + e.fromState() + "->" + e.toState() + "(" + e.reason() + ")").toList();
        }

        void checkJobs() throws IOException {
            assertThat(accepted).as("every key accepted (seed %d)", seed).hasSize(JOBS);
            Set<String> ids = Set.copyOf(accepted.values());
            assertThat(ids).as("one job per key").hasSize(JOBS);
            Map<String, Integer> ran = new HashMap<>();
            for (int i = 0; i < RUNNERS; i++) {
                Path f = hosts.home(runnerHost(i)).resolve("ran.txt");
                if (Files.exists(f)) {
                    for (String line : Files.readAllLines(f)) {
                        ran.merge(line.strip(), 1, Integer::sum);
                    }
                }
            }
            List<String> problems = new ArrayList<>();
            int requeued = 0;
            for (String id : ids) {
                JobView v = store.find(id).orElse(null);
                if (v == null) {
                    problems.add("accepted job missing from the store: " + id);
                    continue;
                }
                long finals = store.events(id).stream().map(JobEvent::toState)
                        .filter(s -> s != null && JobState.fromWire(s).isFinal()).count();
                int runs = ran.getOrDefault(id, 0);
                if (v.state() != JobState.SUCCEEDED || finals != 1) {
                    problems.add(describe(v) + ": want succeeded with one final transition, got " + finals);
                }
                // a job that never lost a lease ran once; one that lost leases ran at most once per attempt
                if (runs < 1 || runs > v.attempt() || (v.attempt() == 1 && runs != 1)) {
                    problems.add(id + " ran " + runs + " times in " + v.attempt() + " attempts");
                }
                if (v.attempt() > 1) {
                    requeued++;
                }
                if (problems.size() > 20) {
                    break;
                }
            }
            assertThat(problems).as("job problems (seed %d)", seed).isEmpty();
            // the kills must have hit running jobs, or the test proved nothing about them
            assertThat(requeued).as("jobs that lost a lease to a SIGKILL or the outage and were run again").isPositive();
        }

        void checkNoProcessLeft() throws InterruptedException {
            for (OrchestratorProcess r : runners) {
                r.terminate(Duration.ofSeconds(30));
            }
            Set<String> ids = Set.copyOf(accepted.values());
            Waits.until("no step process of any job left", Duration.ofSeconds(30),
                    () -> ProcessScan.envValues("ORCH_JOB_ID").values().stream().noneMatch(ids::contains));
        }

        /**
         * Through gateway B, whose ORCH_HOME no runner wrote: the logs and artifacts of every job that printed
         * logs, of every job that ran more than once (a runner was killed under it), and of 300 others at random.
         */
        void checkLogsAndArtifacts() throws Exception {
            List<String> sample = new ArrayList<>(logJobs);
            List<String> others = new ArrayList<>();
            for (String id : accepted.values()) {
                if (logJobs.contains(id)) {
                    continue;
                }
                if (store.find(id).orElseThrow().attempt() > 1) {
                    sample.add(id);
                } else {
                    others.add(id);
                }
            }
            java.util.Collections.shuffle(others, random);
            sample.addAll(others.subList(0, Math.min(300, others.size())));
            List<String> problems = new ArrayList<>();
            for (String id : sample) {
                HttpResponse<String> logs = get("/jobs/" + id + "/logs");
                HttpResponse<String> result = get("/jobs/" + id + "/artifacts/result.json");
                if (logs.statusCode() != 200 || result.statusCode() != 200) {
                    problems.add(id + ": logs " + logs.statusCode() + ", result.json " + result.statusCode() + " " + result.body());
                } else if (!Json.parse(result.body()).path("status").asText().equals("success")) {
                    problems.add(id + ": result.json says " + result.body());
                }
                if (logJobs.contains(id)) {
                    HttpResponse<String> report = get("/jobs/" + id + "/artifacts/out.txt");
                    if (!logs.body().contains("line 6 of " + id)) {
                        problems.add(id + ": the logs lack the last line: " + logs.body());
                    }
                    if (report.statusCode() != 200 || !report.body().contains("made by " + id)) {
                        problems.add(id + ": out.txt (the file its command wrote) " + report.statusCode() + " " + report.body());
                    }
                }
                if (problems.size() > 20) {
                    break;
                }
            }
            assertThat(problems).as("logs and artifacts through a gateway on another ORCH_HOME (%d sampled)", sample.size()).isEmpty();
            assertThat(hosts.home("gateway-b").resolve("artifacts")).as("gateway B served them from the store, not its disk")
                    .satisfiesAnyOf(p -> assertThat(p).doesNotExist(), p -> assertThat(Files.list(p)).isEmpty());
        }

        HttpResponse<String> get(String path) throws IOException, InterruptedException {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[1] + path)).timeout(Duration.ofSeconds(20))
                    .header("Authorization", "Bearer " + TOKEN).GET().build(), HttpResponse.BodyHandlers.ofString());
        }

        /**
         * The schedule fired each second once between the two schedulers: one fire row per second from the first
         * to the last (misfire skip may drop only the seconds of the PostgreSQL outage and of scheduler 1's
         * restart, when scheduler 2 was the one left), one job per enqueued fire, and no other cron job.
         */
        void checkSchedule(Instant stopped) {
            List<JobView> jobs = ScheduleFires.eachSecondOnce(store, "tick",
                    t -> t.isAfter(outageStart.minusSeconds(2)) && t.isBefore(outageEnd.plusSeconds(10)));
            assertThat(jobs).as("jobs the schedule enqueued").hasSizeGreaterThan(20);
            for (JobView v : jobs) {
                assertThat(v.state()).as(describe(v)).isEqualTo(JobState.SUCCEEDED);
                assertThat(v.createdAt()).isBefore(stopped);
            }
        }
    }
}
