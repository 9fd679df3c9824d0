package orchestrator.core.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
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
 *
 * <p>{@link #withTls()} is a server of its own that takes TLS connections only, as one on another host should:
 * a certificate for {@code localhost} (and no other name) signed by a throwaway CA ({@link #caCertificate()}),
 * and user {@link #TLS_USER} with a password ({@link #TLS_PASSWORD}, checked by SCRAM) that owns each new database.
 */
public final class TestPostgres implements AutoCloseable {
    public static final String USER = "orch";
    /** The user of a {@link #withTls()} server's databases: it logs in with {@link #TLS_PASSWORD} over TLS only. */
    public static final String TLS_USER = "app";
    /** A password with every character a URL must escape, so that a test sees the decoding end to end. */
    public static final String TLS_PASSWORD = "p@ss w:rd/?%#&=";
    private static TestPostgres shared;
    /** The name of each of this harness's folders in the temporary folder starts with this. */
    static final String PREFIX = "orch-pg-";
    /** A folder untouched this long, with no live server, is a killed run's: {@link #sweepStale}. */
    static final Duration STALE_AFTER = Duration.ofHours(1);
    private static boolean swept;

    private final Path dir;
    private final Path data;
    private final Path bin;
    private final int port;
    private final boolean asPostgresUser;
    private final boolean tls;
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
        this(false);
    }

    /** A server of its own that takes only TLS connections (see the class comment); close it when done. */
    public static TestPostgres withTls() {
        return new TestPostgres(true);
    }

    private TestPostgres(boolean tls) {
        this.tls = tls;
        try {
            bin = findBinaries();
            asPostgresUser = "root".equals(System.getProperty("user.name"));
            sweepOnce();
            dir = Files.createTempDirectory(PREFIX);
            data = dir.resolve("data");
            if (tls) {
                makeCertificates(dir.resolve("tls"));
            }
            if (asPostgresUser) {
                run(List.of("chown", "-R", "postgres", dir.toString()));
            }
            port = freePort();
            // the locale operators' servers have (en_US.UTF-8 and the like), not "C": lower() then folds every
            // letter and text sorts in dictionary order ('_c' < '0' < 'a' < 'B'), so a query that needs byte order
            // or ASCII folding must name the "C" collation. ICU's en-US gives that collation on any host (Debian's
            // server is built with ICU; glibc's en_US locale may not be generated), C.UTF-8 the character classes.
            run(asUser(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U", USER,
                    "-E", "UTF8", "--no-sync", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US")));
            if (tls) {
                // the harness's superuser over TLS without a password; the tests' user by SCRAM; nothing in plain text
                Files.writeString(data.resolve("pg_hba.conf"), "local all all trust\n"
                        + "hostssl all " + USER + " 127.0.0.1/32 trust\n"
                        + "hostssl all " + TLS_USER + " 127.0.0.1/32 scram-sha-256\n"
                        + "host all all 127.0.0.1/32 reject\n");
            }
            start();
            if (tls) {
                try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), USER, ""); Statement s = c.createStatement()) {
                    s.execute("CREATE USER " + TLS_USER + " PASSWORD '" + TLS_PASSWORD.replace("'", "''") + "'");
                }
            }
        } catch (IOException | SQLException e) {
            throw new IllegalStateException("could not start a test PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** The CA certificate that signed a {@link #withTls()} server's: what {@code sslrootcert} names. */
    public Path caCertificate() {
        return dir.resolve("tls").resolve("ca.crt");
    }

    /** A CA certificate that signed nothing of this server's: a client trusting only it must refuse the server. */
    public Path otherCaCertificate() {
        return dir.resolve("tls").resolve("other-ca.crt");
    }

    private static void makeCertificates(Path tls) throws IOException {
        Files.createDirectories(tls);
        String t = tls + "/";
        for (String ca : List.of("ca", "other-ca")) {
            run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=orchestrator test " + ca,
                    "-keyout", t + ca + ".key", "-out", t + ca + ".crt"));
        }
        run(List.of("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", t + "server.key", "-out", t + "server.csr"));
        Files.writeString(tls.resolve("ext.cnf"), "subjectAltName=DNS:localhost\n");
        run(List.of("openssl", "x509", "-req", "-days", "2", "-in", t + "server.csr", "-CA", t + "ca.crt", "-CAkey", t + "ca.key",
                "-CAcreateserial", "-extfile", t + "ext.cnf", "-out", t + "server.crt"));
        Files.setPosixFilePermissions(tls.resolve("server.key"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    /** Starts the server (again) on the same port and data; returns when it accepts connections. */
    public synchronized void start() {
        if (running) {
            return;
        }
        run(asUser(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("server.log").toString(),
                "-w", "-t", "60", "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c max_connections=300"
                        + " -c shared_buffers=64MB -c fsync=on -c synchronous_commit=on"
                        + (tls ? " -c ssl=on -c ssl_cert_file=" + dir + "/tls/server.crt -c ssl_key_file=" + dir + "/tls/server.key" : ""),
                "start")));
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
            s.execute("CREATE DATABASE " + name + (tls ? " OWNER " + TLS_USER : ""));
        } catch (SQLException e) {
            throw new IllegalStateException("could not create a test database: " + e.getMessage(), e);
        }
        return jdbcUrl(name);
    }

    /** The {@code jdbc:postgresql://127.0.0.1:PORT/db?user=orch} URL of a database (over TLS on a {@link #withTls()} server). */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=" + USER + (tls ? "&sslmode=require" : "");
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

    private static synchronized void sweepOnce() {
        if (!swept) {
            swept = true;
            sweepStale(Path.of(System.getProperty("java.io.tmpdir")), STALE_AFTER);
        }
    }

    /**
     * Deletes the folders that killed runs left in {@code tmp}: a JVM killed (a CI run stopped, a session cut off)
     * runs no shutdown hook, and each folder is a cluster of 50–150 MB. Only a folder untouched for {@code age}
     * whose server is not running goes: one that another JVM is setting up is recent, and one whose
     * {@code postmaster.pid} names a live process is left alone (it may be another run's server).
     *
     * @return the folders deleted
     */
    static List<Path> sweepStale(Path tmp, Duration age) {
        List<Path> ours;
        try (Stream<Path> entries = Files.list(tmp)) {
            ours = entries.filter(d -> d.getFileName().toString().startsWith(PREFIX)).toList();
        } catch (IOException e) {
            return List.of(); // no temporary folder to look at
        }
        long before = System.currentTimeMillis() - age.toMillis();
        List<Path> gone = new ArrayList<>();
        for (Path d : ours) {
            try {
                if (Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS) && Files.getLastModifiedTime(d).toMillis() <= before
                        && !serverAlive(d.resolve("data"))) {
                    run(List.of("rm", "-rf", d.toString()));
                    gone.add(d);
                }
            } catch (IOException | IllegalStateException e) {
                // a folder that could not be looked at or removed stays: a leftover is harmless
            }
        }
        return gone;
    }

    /** Whether the cluster's {@code postmaster.pid} names a process that is alive. */
    private static boolean serverAlive(Path data) throws IOException {
        Path pidFile = data.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return false;
        }
        String first = Files.readAllLines(pidFile).stream().findFirst().orElse("").trim();
        try {
            return ProcessHandle.of(Long.parseLong(first)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            return false;
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
