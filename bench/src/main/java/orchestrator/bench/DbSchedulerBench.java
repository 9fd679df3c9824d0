package orchestrator.bench;

import com.github.kagkarlsson.scheduler.Scheduler;
import com.github.kagkarlsson.scheduler.event.AbstractSchedulerListener;
import com.github.kagkarlsson.scheduler.task.ExecutionComplete;
import com.github.kagkarlsson.scheduler.task.helper.OneTimeTask;
import com.github.kagkarlsson.scheduler.task.helper.Tasks;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The peer of {@code scripts/bench.sh --store postgres}: db-scheduler running a no-op one-time task on
 * the same PostgreSQL server, with as many processes as our runners, so that the two lease rates are
 * measured side by side. Bench-only (Maven profile {@code bench}); the script drives it:
 *
 * <pre>
 *   setup    JDBC_URL                         (re)creates db-scheduler's scheduled_tasks table
 *   schedule JDBC_URL PREFIX COUNT DUE_MS     COUNT executions of the no-op task, PREFIX-1..COUNT, due at DUE_MS
 *   run      JDBC_URL THREADS PREFIX DUE_MS   one scheduler process: it runs until the table is empty, then
 *                                             prints one JSON line about the executions named PREFIX-*
 * </pre>
 *
 * A run polls with lock-and-fetch (one {@code UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING}, the
 * strategy db-scheduler recommends for PostgreSQL and high throughput), fetching up to 4 times its
 * threads and fetching again when fewer than half its threads are busy, and every 100 ms when idle.
 */
public final class DbSchedulerBench {
    static final String TASK = "noop";
    /** How often an idle scheduler polls (db-scheduler's default is 10 s: tuned down for a fair start). */
    static final Duration POLLING_INTERVAL = Duration.ofMillis(100);
    /** How often a run checks whether the table is empty. */
    static final long EMPTY_CHECK_MS = 20;

    /** db-scheduler's table for PostgreSQL, as its documentation gives it (with the priority column of 16.x). */
    static final String DDL = """
            DROP TABLE IF EXISTS scheduled_tasks;
            CREATE TABLE scheduled_tasks (
              task_name TEXT NOT NULL,
              task_instance TEXT NOT NULL,
              task_data BYTEA,
              execution_time TIMESTAMP WITH TIME ZONE NOT NULL,
              picked BOOLEAN NOT NULL,
              picked_by TEXT,
              last_success TIMESTAMP WITH TIME ZONE,
              last_failure TIMESTAMP WITH TIME ZONE,
              consecutive_failures INT,
              last_heartbeat TIMESTAMP WITH TIME ZONE,
              version BIGINT NOT NULL,
              priority SMALLINT,
              PRIMARY KEY (task_name, task_instance)
            );
            CREATE INDEX execution_time_idx ON scheduled_tasks (execution_time);
            CREATE INDEX last_heartbeat_idx ON scheduled_tasks (last_heartbeat);
            CREATE INDEX priority_execution_time_idx ON scheduled_tasks (priority DESC, execution_time ASC);
            """;

    private DbSchedulerBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage("missing arguments");
        }
        String url = args[1];
        switch (args[0]) {
            case "setup" -> setup(url);
            case "schedule" -> {
                need(args, 5);
                schedule(url, args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]));
            }
            case "run" -> {
                need(args, 5);
                run(url, Integer.parseInt(args[2]), args[3], Long.parseLong(args[4]));
            }
            default -> usage("unknown command '" + args[0] + "'");
        }
    }

    private static void need(String[] args, int n) {
        if (args.length != n) {
            usage(args[0] + " takes " + (n - 1) + " arguments, got " + (args.length - 1));
        }
    }

    private static void usage(String why) {
        System.err.println("db-scheduler-bench: " + why + "\nusage: setup JDBC_URL | schedule JDBC_URL PREFIX COUNT DUE_MS"
                + " | run JDBC_URL THREADS PREFIX DUE_MS");
        System.exit(2);
    }

    private static void setup(String url) throws SQLException {
        try (HikariDataSource ds = pool(url, 1); Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.execute(DDL);
        }
    }

    /** Inserts the executions in one statement: what scheduling them costs is not part of the measurement. */
    private static void schedule(String url, String prefix, int count, long dueMs) throws SQLException {
        try (HikariDataSource ds = pool(url, 1); Connection c = ds.getConnection();
             PreparedStatement s = c.prepareStatement("INSERT INTO scheduled_tasks (task_name, task_instance, execution_time, picked, version)"
                     + " SELECT ?, ? || '-' || g, ?, false, 1 FROM generate_series(1, ?) g")) {
            s.setString(1, TASK);
            s.setString(2, prefix);
            s.setTimestamp(3, new Timestamp(dueMs));
            s.setInt(4, count);
            s.executeUpdate();
        }
    }

    private static void run(String url, int threads, String prefix, long dueMs) throws Exception {
        String measured = prefix + "-";
        AtomicLong count = new AtomicLong();
        AtomicLong all = new AtomicLong();
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        AtomicLong last = new AtomicLong(Long.MIN_VALUE);
        OneTimeTask<Void> noop = Tasks.oneTime(TASK).execute((instance, ctx) -> {
            if (instance.getId().startsWith(measured)) {
                first.accumulateAndGet(System.currentTimeMillis(), Math::min);
            }
        });
        // 2 connections beside the executor's: the poller and the housekeeping (heartbeats, dead executions)
        try (HikariDataSource ds = pool(url, threads + 2)) {
            Scheduler scheduler = Scheduler.create(ds, noop)
                    .threads(threads)
                    .pollUsingLockAndFetch(0.5, 4.0)
                    .pollingInterval(POLLING_INTERVAL)
                    .addSchedulerListener(new AbstractSchedulerListener() {
                        @Override
                        public void onExecutionComplete(ExecutionComplete done) {
                            // called once the completion (the row's delete) is committed
                            all.incrementAndGet();
                            if (done.getExecution().taskInstance.getId().startsWith(measured)) {
                                count.incrementAndGet();
                                last.accumulateAndGet(System.currentTimeMillis(), Math::max);
                            }
                        }
                    })
                    .build();
            scheduler.start();
            long cpuAtDue = -1;
            long started = System.currentTimeMillis();
            try (Connection c = ds.getConnection(); PreparedStatement left = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM scheduled_tasks)")) {
                while (true) {
                    long now = System.currentTimeMillis();
                    if (cpuAtDue < 0 && now >= dueMs - 200) {
                        cpuAtDue = cpuNanos();
                    }
                    if (now > dueMs && !exists(left)) {
                        break;
                    }
                    if (now - started > 600_000) {
                        throw new IllegalStateException("the table was not empty after 600 s");
                    }
                    Thread.sleep(EMPTY_CHECK_MS);
                }
            }
            long cpu = cpuNanos() - Math.max(0, cpuAtDue);
            scheduler.stop();
            System.out.printf(Locale.ROOT, "{\"executed\": %d, \"measured\": %d, \"first_ms\": %d, \"last_ms\": %d, \"cpu_ms\": %.1f}%n",
                    all.get(), count.get(), first.get(), last.get(), cpu / 1e6);
        }
    }

    private static boolean exists(PreparedStatement s) throws SQLException {
        try (ResultSet rs = s.executeQuery()) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    /** This JVM's CPU time so far, every thread's. */
    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static HikariDataSource pool(String url, int size) {
        HikariConfig cfg = new HikariConfig();
        cfg.setJdbcUrl(url);
        cfg.setMaximumPoolSize(size);
        cfg.setMinimumIdle(size);
        cfg.setPoolName("bench");
        return new HikariDataSource(cfg);
    }
}
