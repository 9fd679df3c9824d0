package orchestrator.core.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real, throwaway PostgreSQL server for tests: Debian's {@code postgresql} binaries (installed by
 * {@code scripts/test}), a cluster in a temporary folder, on a free port of 127.0.0.1, trust auth for user
 * {@code orch}. As root the server runs as the {@code postgres} user ({@code initdb} refuses root), through
 * {@code runuser}. One server per JVM ({@link #shared()}), stopped by a shutdown hook; each test takes a
 * database of its own ({@link #newDatabase()}) so that tests never see each other's rows.
 *
 * <p>{@link #stop()} and {@link #start()} let a test take the server away and bring it back on the same
 * port and data folder (the fault tests).
 */
public final class TestPostgres implements AutoCloseable {
    public static final String USER = "orch";
    private static TestPostgres shared;

    private final Path dir;
    private final Path data;
    private final Path bin;
    private final int port;
    private final boolean asPostgresUser;
    private volatile boolean running;

    /** The JVM's one server, started on first use. */
    public static synchronized TestPostgres shared() {
        if (shared == null) {
            shared = new TestPostgres();
            TestPostgres s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::stopAndForget, "test-postgres-stop"));
        }
        return shared;
    }

    /** A server of its own (a test that stops and restarts it); close it when done. */
    public TestPostgres() {
        try {
            bin = findBinaries();
            asPostgresUser = "root".equals(System.getProperty("user.name"));
            dir = Files.createTempDirectory("orch-pg-");
            data = dir.resolve("data");
            if (asPostgresUser) {
                run(List.of("chown", "-R", "postgres", dir.toString()));
            }
            port = freePort();
            run(asUser(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U", USER,
                    "-E", "UTF8", "--no-sync", "--locale=C")));
            start();
        } catch (IOException e) {
            throw new IllegalStateException("could not start a test PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** Starts the server (again) on the same port and data; returns when it accepts connections. */
    public synchronized void start() {
        if (running) {
            return;
        }
        run(asUser(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("server.log").toString(),
                "-w", "-t", "60", "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c max_connections=300"
                        + " -c shared_buffers=64MB -c fsync=on -c synchronous_commit=on", "start")));
        running = true;
    }

    /** Stops the server at once (fast shutdown: open connections are cut). */
    public synchronized void stop() {
        if (!running) {
            return;
        }
        run(asUser(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "-t", "60", "stop")));
        running = false;
    }

    public int port() {
        return port;
    }

    /** A new, empty database; returns its {@code jdbc:postgresql://} URL (user {@link #USER}, no password). */
    public String newDatabase() {
        String name = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
        try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), USER, "");
             Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create a test database: " + e.getMessage(), e);
        }
        return jdbcUrl(name);
    }

    /** The {@code jdbc:postgresql://127.0.0.1:PORT/db?user=orch} URL of a database. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=" + USER;
    }

    /** The operator's form of a database's URL: {@code postgresql://orch@127.0.0.1:PORT/db}. */
    public String url(String database) {
        return "postgresql://" + USER + "@127.0.0.1:" + port + "/" + database;
    }

    /** The database name of a URL returned by {@link #newDatabase()}. */
    public static String databaseOf(String jdbcUrl) {
        String rest = jdbcUrl.substring(jdbcUrl.indexOf("/", "jdbc:postgresql://".length()) + 1);
        int q = rest.indexOf('?');
        return q < 0 ? rest : rest.substring(0, q);
    }

    /** What the server wrote to its log (for a failing test's message). */
    public String serverLog() {
        try {
            return Files.readString(dir.resolve("server.log"));
        } catch (IOException e) {
            return "(no server log: " + e.getMessage() + ")";
        }
    }

    @Override
    public synchronized void close() {
        try {
            stop();
        } catch (RuntimeException e) {
            // the server may be gone already; the folder goes either way
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temp folder left behind is harmless
        }
    }

    /**
     * The shared server's end, at JVM exit: stops it, and leaves the folder's removal to an {@code rm} that
     * outlives the JVM. The contract suite's hundreds of databases are tens of thousands of files; deleting
     * them here took past surefire's 30 s exit limit on a loaded machine, and surefire then kills the fork.
     */
    private synchronized void stopAndForget() {
        try {
            stop();
        } catch (RuntimeException e) {
            // the server may be gone already
        }
        try {
            new ProcessBuilder("rm", "-rf", dir.toString()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            // a temp folder left behind is harmless
        }
    }

    private List<String> asUser(List<String> command) {
        if (!asPostgresUser) {
            return command;
        }
        List<String> c = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        c.addAll(command);
        return c;
    }

    private static Path findBinaries() throws IOException {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            throw new IOException("no PostgreSQL server under /usr/lib/postgresql: install Debian's postgresql (scripts/test does)");
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparing(b -> Integer.parseInt(b.getParent().getFileName().toString().replaceAll("\\D", "0"))))
                    .orElseThrow(() -> new IOException("no pg_ctl under /usr/lib/postgresql/*/bin"));
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + ": did not finish in 120 s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue() + ": " + new String(out));
            }
        } catch (IOException e) {
            throw new IllegalStateException(String.join(" ", command) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
