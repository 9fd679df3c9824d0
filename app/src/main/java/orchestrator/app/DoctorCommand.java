package orchestrator.app;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import orchestrator.core.OrchestratorException;
import orchestrator.core.agent.AgentDefinition;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.PostgresTransport;
import orchestrator.core.store.RunnerView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code orchestrator doctor}: checks what an operator would check by hand before trusting a host,
 * one line per check. Exit 1 when any check FAILs; WARNs do not fail.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Check configuration, store (on PostgreSQL also its connections, TLS, schema and clock), live runners, folders, agent binaries, the port, token strength and the clock. Exit 1 on any failure.")
final class DoctorCommand implements Callable<Integer> {
    /** Shorter tokens are refused by the gateway's config as weak; this is the length doctor asks for. */
    static final int GOOD_TOKEN_LENGTH = 32;
    private static final Duration VERSION_TIMEOUT = Duration.ofSeconds(15);

    @Mixin
    Context ctx;

    private final List<String> lines = new ArrayList<>();
    private int failures;

    @Override
    public Integer call() {
        Env env = ctx.env();
        AllSettings settings;
        try {
            ctx.start(env, null);
            settings = AllSettings.from(env);
            ok("config", "all settings valid (ORCH_HOME " + settings.core().home() + ")");
        } catch (OrchestratorException e) {
            fail("config", e.getMessage());
            return report();
        }
        CoreConfig core = settings.core();
        folders(core);
        store(core, settings.gateway().readyRequiresRunner());
        agents(core);
        minVersions(settings.runner());
        port(settings.gateway().host(), settings.gateway().port());
        tokens(env, settings.gateway().devMode());
        envFile();
        return report();
    }

    private void folders(CoreConfig core) {
        for (Path dir : List.of(core.home(), core.artifactsDir(), core.workspacesDir(), core.logsDir())) {
            try {
                Files.createDirectories(dir);
                Path probe = Files.createTempFile(dir, ".doctor", ".tmp");
                Files.delete(probe);
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
                if (perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                    fail("folders", dir + " is writable by every user; chmod o-w it");
                } else if (perms.contains(PosixFilePermission.OTHERS_READ) && dir.equals(core.home())) {
                    warn("folders", dir + " is readable by every user (artifacts and logs may hold source code); consider chmod o-rwx");
                } else {
                    ok("folders", dir + " writable");
                }
            } catch (IOException | UnsupportedOperationException e) {
                fail("folders", dir + " is not usable: " + e.getMessage());
            }
        }
        for (String secretFile : List.of("dev-token")) {
            Path f = core.home().resolve(secretFile);
            try {
                if (Files.exists(f) && !Files.getPosixFilePermissions(f).equals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE))) {
                    fail("folders", f + " must be mode 0600 (it holds a token)");
                }
            } catch (IOException e) {
                fail("folders", "cannot read the mode of " + f + ": " + e.getMessage());
            }
        }
    }

    private void store(CoreConfig core, boolean requireRunner) {
        try (JobStore store = ctx.openStore(core)) {
            if (!store.ready(Duration.ofSeconds(5))) {
                fail("store", core.storeName() + " does not accept writes (disk full, read-only, or locked for over 5 s)");
                return;
            }
            ok("store", core.storeName() + " readable and writable; jobs by state: " + store.countByState());
            if (store instanceof PostgresJobStore pg) {
                PostgresJobStore.ServerStatus s = pg.serverStatus();
                int perProcess = pg.connectionsPerProcess();
                if (connectionsShort(s, perProcess)) {
                    warn("store", connections(s, perProcess));
                } else {
                    ok("store", connections(s, perProcess));
                }
                PostgresTransport transport = pg.transport();
                if (transport.problem() == null) {
                    ok("tls", transport.describe());
                } else {
                    warn("tls", transport.problem());
                }
                PostgresJobStore.SchemaStatus schema = pg.schemaStatus();
                if (schema.unknown().isEmpty()) {
                    ok("schema", schema(schema));
                } else {
                    warn("schema", schema(schema));
                }
            }
            List<JobView> newest = store.list(new JobQuery(null, true, null, 1));
            Instant now = ctx.clock.instant();
            if (!newest.isEmpty() && newest.get(0).createdAt().isAfter(now.plusSeconds(60))) {
                fail("clock", "the newest job was created at " + newest.get(0).createdAt() + ", after now (" + now
                        + "): the clock went backwards; leases and schedules depend on it");
            } else if (now.isBefore(Instant.parse("2024-01-01T00:00:00Z"))) {
                fail("clock", "the clock says " + now + ": set the time (NTP) before running jobs");
            } else {
                ok("clock", "now is " + now + " (UTC)");
            }
            if (store instanceof PostgresJobStore pg) {
                report("clock", clockSkew(pg.clockSkew(), core.leaseTtl()));
            }
            runners(store, core, now, requireRunner);
        } catch (OrchestratorException e) {
            fail("store", e.getMessage());
        }
    }

    enum Level { OK, WARN, FAIL }

    private void report(String check, Finding f) {
        switch (f.level()) {
            case OK -> ok(check, f.message());
            case WARN -> warn(check, f.message());
            case FAIL -> fail(check, f.message());
        }
    }

    record Finding(Level level, String message) {
    }

    /**
     * This host's clock against the PostgreSQL server's. Every host writes lease expiries from its own clock and
     * every other host compares them with its own: a lease is renewed a third of {@code LEASE_TTL_SEC} before it would
     * expire, so hosts apart by a third of it are near taking live leases for expired ones.
     */
    static Finding clockSkew(PostgresJobStore.ClockSkew s, Duration leaseTtl) {
        return clockSkew("this host's clock is " + PostgresJobStore.describe(s) + " the PostgreSQL server's (round trip "
                + s.roundTripMs() + " ms)", s.skewMs(), leaseTtl);
    }

    /**
     * The live runners whose clocks were off the server's at their last heartbeat, one finding each (none when all
     * are within {@link PostgresJobStore#CLOCK_SKEW_WARN} or the store does not compare clocks).
     */
    static List<Finding> runnerClocks(List<RunnerView> live, Duration leaseTtl) {
        List<Finding> out = new ArrayList<>();
        for (RunnerView r : live) {
            Long skew = r.clockSkewMs();
            if (skew != null && Math.abs(skew) > PostgresJobStore.CLOCK_SKEW_WARN.toMillis()) {
                String off = PostgresJobStore.describe(new PostgresJobStore.ClockSkew(skew, 0));
                out.add(clockSkew("the clock of host " + r.host() + " (runner " + r.runnerId() + ") was " + off
                        + " the PostgreSQL server's at the runner's last heartbeat", skew, leaseTtl));
            }
        }
        return out;
    }

    private static Finding clockSkew(String m, long skewMs, Duration leaseTtl) {
        long abs = Math.abs(skewMs);
        if (abs >= leaseTtl.toMillis() / 3) {
            return new Finding(Level.FAIL, m + ": with LEASE_TTL_SEC " + leaseTtl.toSeconds() + " s, hosts this far apart take live leases"
                    + " for expired ones and run jobs twice; keep the clocks in step (NTP, chrony) on every host");
        }
        if (abs > PostgresJobStore.CLOCK_SKEW_WARN.toMillis()) {
            return new Finding(Level.WARN, m + ": delayed jobs, schedule fires and lease expiries are that far off between hosts;"
                    + " keep the clocks in step (NTP, chrony) on every host");
        }
        return new Finding(Level.OK, m);
    }

    /** The schema's version against this build's; ahead of it during a rolling upgrade that has not reached this host. */
    static String schema(PostgresJobStore.SchemaStatus s) {
        if (s.unknown().isEmpty()) {
            return "PostgreSQL schema at version " + s.databaseVersion() + ", this build's";
        }
        return "PostgreSQL schema at version " + s.databaseVersion() + ", newer than this build's " + s.buildVersion()
                + " (a newer orchestrator applied " + String.join(", ", s.unknown()) + "): this host works on it, but upgrade it"
                + " (docs/DEPLOYMENT.md, Upgrading several hosts)";
    }

    /**
     * Live runners of more than one version, named: a rolling upgrade under way, or a host it left behind.
     *
     * @return null when they all run one version
     */
    static String mixedVersions(List<RunnerView> live) {
        java.util.Map<String, List<String>> byVersion = new java.util.TreeMap<>();
        for (RunnerView r : live) {
            byVersion.computeIfAbsent(r.version() == null ? "unknown" : r.version(), v -> new ArrayList<>()).add(r.runnerId());
        }
        if (byVersion.size() < 2) {
            return null;
        }
        return "live runners run " + byVersion.size() + " versions: " + byVersion.entrySet().stream()
                .map(e -> e.getKey() + " (" + String.join(", ", e.getValue()) + ")").collect(java.util.stream.Collectors.joining("; "))
                + ": a rolling upgrade under way, or a host it left behind";
    }

    /** Whether the server lacks room for one more orchestrator process's connections. */
    static boolean connectionsShort(PostgresJobStore.ServerStatus s, int perProcess) {
        return s.free() < perProcess;
    }

    /** The server's version and connection headroom, against what one more process would hold (DEPLOYMENT.md). */
    static String connections(PostgresJobStore.ServerStatus s, int perProcess) {
        String m = "PostgreSQL " + s.version() + ": " + s.connections() + " of " + (s.maxConnections() - s.reserved())
                + " connections in use (max_connections " + s.maxConnections() + ", " + s.reserved() + " kept for superusers);"
                + " each orchestrator process holds up to " + perProcess + " (DATABASE_POOL_SIZE "
                + (perProcess - orchestrator.core.config.PostgresUrl.CONNECTIONS_BESIDE_POOL) + ", plus "
                + orchestrator.core.config.PostgresUrl.CONNECTIONS_BESIDE_POOL + ")";
        return connectionsShort(s, perProcess)
                ? m + ": one more process may not get its connections; raise max_connections (docs/DEPLOYMENT.md, PostgreSQL sizing)"
                : m;
    }

    /**
     * Whether anything will lease the queue: the check whose absence let jobs sit queued while every other
     * probe looked fine. Runners that died (stale) or queued jobs with no live runner fail; no runner at all
     * on a quiet store only warns, since doctor also runs before the services are first started.
     */
    private void runners(JobStore store, CoreConfig core, Instant now, boolean requireRunner) {
        Duration staleAfter = core.runnerStaleAfter();
        List<RunnerView> all = store.runners();
        List<RunnerView> taking = all.stream().filter(r -> r.takesJobs(now, staleAfter)).toList();
        if (!taking.isEmpty()) {
            int slots = taking.stream().mapToInt(RunnerView::slots).sum();
            ok("runners", taking.size() + " live runner(s) with " + slots + " slot(s): "
                    + taking.stream().map(RunnerView::runnerId).collect(java.util.stream.Collectors.joining(", ")));
            String mixed = mixedVersions(taking);
            if (mixed != null) {
                warn("runners", mixed);
            }
            for (Finding f : runnerClocks(taking, core.leaseTtl())) {
                report("clock", f);
            }
            return;
        }
        List<RunnerView> stale = all.stream().filter(r -> r.status(now, staleAfter) == RunnerView.Status.STALE).toList();
        long queued = store.countByState().getOrDefault(orchestrator.core.job.JobState.QUEUED, 0L);
        String why = stale.isEmpty() ? "" : "; stale (no heartbeat for over " + staleAfter.toSeconds() + " s, killed or hung): "
                + stale.stream().map(r -> r.runnerId() + " last seen " + r.heartbeatAge(now).toSeconds() + " s ago")
                        .collect(java.util.stream.Collectors.joining(", "));
        String message = "no live runner takes jobs" + why + (queued > 0 ? "; " + queued + " queued job(s) will not start" : "")
                + " (start orchestrator runner or serve; orchestrator runners lists them)";
        if (!requireRunner) {
            warn("runners", message + "; READY_REQUIRES_RUNNER=0, so the gateway is meant to run alone");
        } else if (!stale.isEmpty() || queued > 0) {
            fail("runners", message);
        } else {
            warn("runners", message);
        }
    }

    private void agents(CoreConfig core) {
        boolean real = core.agents().realCli();
        for (AgentDefinition a : new java.util.TreeMap<>(core.agents().agents()).values()) {
            String binary = switch (a.type()) {
                case "command" -> a.argv().get(0);
                case "simulate" -> null;
                default -> a.binary();
            };
            if (binary == null) {
                continue;
            }
            Path resolved = onPath(binary);
            boolean needed = a.type().equals("command") || real;
            if (resolved == null) {
                String msg = "agent " + a.name() + ": '" + binary + "' not found on PATH";
                if (needed) {
                    fail("agents", msg);
                } else {
                    ok("agents", msg + " (simulated while ENABLE_REAL_CLI=0)");
                }
                continue;
            }
            if (a.type().equals("command")) {
                ok("agents", "agent " + a.name() + ": " + resolved);
                continue;
            }
            String version = version(resolved);
            if (version == null) {
                String msg = "agent " + a.name() + ": " + resolved + " --version failed or did not answer within "
                        + VERSION_TIMEOUT.toSeconds() + " s";
                if (needed) {
                    fail("agents", msg);
                } else {
                    warn("agents", msg);
                }
            } else {
                ok("agents", "agent " + a.name() + ": " + resolved + " " + version + (real ? "" : " (simulated while ENABLE_REAL_CLI=0)"));
            }
        }
    }

    /** MIN_BINARY_VERSIONS: each named binary that is installed must be at least its version. */
    private void minVersions(orchestrator.runner.RunnerConfig runner) {
        orchestrator.runner.VersionCheck check = new orchestrator.runner.VersionCheck();
        runner.minVersions().forEach((name, min) -> {
            Path bin = onPath(name);
            if (bin == null) {
                ok("versions", name + " (at least " + min + " by MIN_BINARY_VERSIONS) is not on PATH");
                return;
            }
            String refused = check.refusal(bin, runner.minVersions());
            if (refused == null) {
                ok("versions", name + " " + orchestrator.runner.VersionCheck.version(bin).version() + " >= " + min);
            } else {
                fail("versions", refused);
            }
        });
    }

    private static Path onPath(String binary) {
        if (binary.contains("/")) {
            Path p = Path.of(binary);
            return Files.isExecutable(p) ? p : null;
        }
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, binary);
            if (Files.isExecutable(p) && !Files.isDirectory(p)) {
                return p;
            }
        }
        return null;
    }

    private static String version(Path binary) {
        try {
            Process p = new ProcessBuilder(binary.toString(), "--version").redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            byte[] out;
            if (!p.waitFor(VERSION_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return null;
            }
            out = p.getInputStream().readNBytes(4096);
            String first = new String(out, java.nio.charset.StandardCharsets.UTF_8).strip().lines().findFirst().orElse("");
            return p.exitValue() == 0 ? first : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private void port(String host, int port) {
        if (port == 0) {
            ok("port", "HTTP_PORT=0: the gateway picks a free port");
            return;
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(host, port));
            ok("port", host + ":" + port + " is free for the gateway");
        } catch (IOException e) {
            // taken: fine if it is our own gateway answering
            try {
                HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build().send(
                        HttpRequest.newBuilder(URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/health"))
                                .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200 && r.body().contains("uptime_seconds")) {
                    ok("port", host + ":" + port + " is served by a running orchestrator gateway");
                    return;
                }
            } catch (IOException | RuntimeException ignored) {
                // not an HTTP server we know
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            fail("port", host + ":" + port + " is taken by another program (" + e.getMessage() + "); set HTTP_PORT");
        }
    }

    private void tokens(Env env, boolean devMode) {
        if (devMode) {
            warn("tokens", "no WEBHOOK_TOKEN(S) configured: the development token is in use and the gateway binds to loopback only");
            return;
        }
        List<String> all = new ArrayList<>();
        if (env.get("WEBHOOK_TOKEN") != null) {
            all.add(env.get("WEBHOOK_TOKEN"));
        }
        all.addAll(env.pairs("WEBHOOK_TOKENS").keySet());
        for (String t : all) {
            String name = orchestrator.gateway.auth.ApiToken.derivedName(t);
            long distinct = t.chars().distinct().count();
            if (t.length() < GOOD_TOKEN_LENGTH || distinct < 10) {
                fail("tokens", "token " + name + " is weak (" + t.length() + " characters, " + distinct
                        + " distinct): use at least " + GOOD_TOKEN_LENGTH + " random characters, e.g. openssl rand -hex 24");
            } else {
                ok("tokens", "token " + name + " looks strong");
            }
        }
    }

    private void envFile() {
        Path f = ctx.configFile;
        if (f == null) {
            return;
        }
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(f);
            if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                fail("config", f + " is readable or writable by every user but holds tokens: chmod 0640 it");
            } else {
                ok("config", f + " is not readable by other users");
            }
        } catch (IOException e) {
            fail("config", "cannot read the mode of " + f + ": " + e.getMessage());
        }
    }

    private void ok(String area, String message) {
        lines.add("OK    " + area + ": " + message);
    }

    private void warn(String area, String message) {
        lines.add("WARN  " + area + ": " + message);
    }

    private void fail(String area, String message) {
        lines.add("FAIL  " + area + ": " + message);
        failures++;
    }

    private int report() {
        lines.forEach(System.out::println);
        System.out.println(failures == 0 ? "doctor: all checks passed" : "doctor: " + failures + " check(s) failed");
        return failures == 0 ? 0 : 1;
    }
}
