package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped deploy files, checked by the real tools (scripts/test installs them). Any warning
 * fails the test, not only an error exit: systemd-analyze reports a misspelt directive with exit 0.
 */
class DeployTemplatesTest {
    static final Path DEPLOY = Path.of("../deploy").toAbsolutePath().normalize();
    static final Path SCRIPTS = Path.of("../scripts").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    record Run(int exit, String output) {
    }

    static Run run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish");
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void systemd_units_pass_systemd_analyze_verify_without_a_warning() throws Exception {
        // the ExecStart binary must exist for verify: a stand-in at a temporary path
        Path bin = tmp.resolve("bin/orchestrator");
        Files.createDirectories(bin.getParent());
        Files.writeString(bin, "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> units = new ArrayList<>();
        try (Stream<Path> s = Files.list(DEPLOY.resolve("systemd"))) {
            for (Path unit : s.sorted().toList()) {
                String text = Files.readString(unit).replace("/opt/orchestrator/bin/orchestrator", bin.toString());
                String name = unit.getFileName().toString().replace("@.service", "@1.service");
                Files.writeString(tmp.resolve(name), text);
                units.add(name);
            }
        }
        assertThat(units).contains("orchestrator-api.service", "orchestrator-runner.service",
                "orchestrator-runner@1.service", "orchestrator-scheduler.service");
        for (String unit : units) {
            Run r = run(tmp, "systemd-analyze", "verify", "./" + unit);
            assertThat(r.output()).as("systemd-analyze verify %s", unit).isEmpty();
            assertThat(r.exit()).as(r.output()).isZero();
        }
        String runner = Files.readString(DEPLOY.resolve("systemd/orchestrator-runner@.service"));
        assertThat(runner).contains("KillMode=mixed", "Restart=always", "NoNewPrivileges=true", "ProtectSystem=strict",
                "PrivateTmp=true", "StateDirectory=orchestrator", "LogsDirectory=orchestrator", "EnvironmentFile=",
                "ExecReload=/bin/kill -HUP $MAINPID", "LimitNOFILE=", "User=orchestrator", "--instance %i");
        // the drain must fit: TimeoutStopSec above the runner's default drain grace
        int stop = Integer.parseInt(runner.replaceAll("(?s).*TimeoutStopSec=(\\d+).*", "$1"));
        assertThat(stop).isGreaterThan(orchestrator.runner.RunnerConfig.from(new orchestrator.core.config.Env(java.util.Map.of())).drainGraceSec());
    }

    @ParameterizedTest
    @ValueSource(strings = {"orchestrator.conf", "orchestrator-multihost.conf"})
    void nginx_configuration_passes_nginx_t_with_a_throwaway_certificate(String file) throws Exception {
        Run cert = run(tmp, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                "-keyout", tmp.resolve("key.pem").toString(), "-out", tmp.resolve("cert.pem").toString());
        assertThat(cert.exit()).as(cert.output()).isZero();
        String conf = Files.readString(DEPLOY.resolve("nginx").resolve(file))
                .replace("/etc/ssl/certs/orchestrator.crt", tmp.resolve("cert.pem").toString())
                .replace("/etc/ssl/private/orchestrator.key", tmp.resolve("key.pem").toString());
        Files.writeString(tmp.resolve("orchestrator.conf"), conf);
        Files.createDirectories(tmp.resolve("logs"));
        Files.writeString(tmp.resolve("nginx.conf"), """
                pid %1$s/nginx.pid;
                error_log %1$s/logs/error.log;
                events {}
                http {
                    access_log off;
                    client_body_temp_path %1$s/body;
                    include %1$s/orchestrator.conf;
                }
                """.formatted(tmp));
        Run r = run(tmp, "nginx", "-t", "-c", tmp.resolve("nginx.conf").toString(), "-p", tmp.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("test is successful").doesNotContain("[warn]").doesNotContain("[emerg]");
        // the proxy refuses what the gateway would refuse: client_max_body_size = MAX_WEBHOOK_BODY_BYTES
        assertThat(conf).contains("client_max_body_size 1m;");
        assertThat(orchestrator.gateway.GatewayConfig.DEFAULT_MAX_WEBHOOK_BODY_BYTES).isEqualTo(1024 * 1024);
        assertThat(conf).contains("limit_req_zone", "ssl_protocols TLSv1.2 TLSv1.3;", "Strict-Transport-Security",
                "return 301 https://", "proxy_buffering off;", "X-Forwarded-For $remote_addr", "location = /metrics");
    }

    @Test
    void multihost_nginx_balances_over_several_gateways_and_never_retries_a_post() throws Exception {
        String conf = Files.readString(DEPLOY.resolve("nginx/orchestrator-multihost.conf"));
        String directives = conf.lines().filter(l -> !l.strip().startsWith("#")).collect(java.util.stream.Collectors.joining("\n"));
        String upstream = directives.replaceAll("(?s).*upstream orchestrator_gateways \\{(.*?)}.*", "$1");
        assertThat(upstream.lines().filter(l -> l.strip().startsWith("server ")).count()).as(upstream).isGreaterThanOrEqualTo(2);
        assertThat(upstream).contains("least_conn;", "max_fails=", "keepalive");
        // a webhook POST that reached a gateway may be committed: repeating it elsewhere is the client's call (Idempotency-Key)
        assertThat(directives).contains("proxy_next_upstream error timeout").doesNotContain("non_idempotent");
        assertThat(directives).doesNotContain("orchestrator_gateway;").doesNotContain("127.0.0.1:8080");
        // the same protections as the one-host file, line for line where they are the same
        String single = Files.readString(DEPLOY.resolve("nginx/orchestrator.conf"));
        for (String shared : List.of("limit_req_zone $binary_remote_addr zone=orchestrator_webhook:10m rate=10r/s;",
                "client_max_body_size 1m;", "proxy_set_header X-Forwarded-For $remote_addr;", "ssl_protocols TLSv1.2 TLSv1.3;",
                "proxy_read_timeout 1h;", "deny all;")) {
            assertThat(single).contains(shared);
            assertThat(conf).contains(shared);
        }
    }

    @Test
    void logrotate_policy_passes_logrotate_debug_without_an_error() throws Exception {
        Path logs = Files.createDirectories(tmp.resolve("log"));
        Files.writeString(logs.resolve("gateway.log"), "a line\n");
        String user = System.getProperty("user.name");
        String conf = Files.readString(DEPLOY.resolve("logrotate/orchestrator"))
                .replace("/var/log/orchestrator", logs.toString())
                .replace("orchestrator orchestrator", user + " " + user);
        Files.writeString(tmp.resolve("orchestrator"), conf);
        Run r = run(tmp, "logrotate", "-d", "-s", tmp.resolve("state").toString(), tmp.resolve("orchestrator").toString());
        assertThat(r.exit()).as(r.output()).isZero();
        List<String> complaints = r.output().lines()
                .filter(l -> l.toLowerCase(java.util.Locale.ROOT).contains("error") || l.toLowerCase(java.util.Locale.ROOT).startsWith("warning"))
                .filter(l -> !l.startsWith("warning: logrotate in debug mode does nothing")) // the banner of -d itself
                .toList();
        assertThat(complaints).as(r.output()).isEmpty();
        String directives = conf.lines().filter(l -> !l.strip().startsWith("#")).collect(java.util.stream.Collectors.joining("\n"));
        assertThat(directives).doesNotContain("copytruncate").contains("postrotate", "HUP", "delaycompress");
    }

    @Test
    void launchd_plists_parse_with_python_plistlib() throws Exception {
        try (Stream<Path> s = Files.list(DEPLOY.resolve("launchd"))) {
            List<Path> plists = s.filter(p -> p.toString().endsWith(".plist")).sorted().toList();
            assertThat(plists).hasSize(3);
            for (Path plist : plists) {
                Run r = run(tmp, "python3", "-c", "import plistlib,sys; d=plistlib.load(open(sys.argv[1],'rb')); "
                        + "assert d['Label'].startswith('com.orchestrator.'); assert d['KeepAlive'] is True; "
                        + "print(' '.join(d['ProgramArguments']))", plist.toString());
                assertThat(r.exit()).as(plist + ": " + r.output()).isZero();
                assertThat(r.output()).contains("__PREFIX__/bin/orchestrator", "--config");
            }
        }
    }

    @Test
    void install_systemd_dry_run_prints_the_whole_plan_and_exits_0() throws Exception {
        Run r = run(tmp, "bash", SCRIPTS.resolve("install_systemd.sh").toString(), "--dry-run", "--runners", "3");
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("useradd --system", "/var/lib/orchestrator", "/etc/orchestrator/orchestrator.env",
                "/etc/systemd/system/", "/etc/logrotate.d/orchestrator", "systemctl daemon-reload",
                "systemctl enable --now orchestrator-api.service orchestrator-scheduler.service orchestrator-runner@1.service orchestrator-runner@2.service orchestrator-runner@3.service");
        assertThat(run(tmp, "bash", SCRIPTS.resolve("install_systemd.sh").toString(), "--runners", "zero").exit()).isEqualTo(2);
    }

    @Test
    void install_launchd_dry_run_prints_the_whole_plan_and_exits_0() throws Exception {
        Run r = run(tmp, "bash", SCRIPTS.resolve("install_launchd.sh").toString(), "--dry-run", "--runners", "2");
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("launchctl bootstrap", "com.orchestrator.api.plist", "com.orchestrator.scheduler.plist",
                "com.orchestrator.runner.1.plist", "com.orchestrator.runner.2.plist", "plutil -lint");
        Run un = run(tmp, "bash", SCRIPTS.resolve("install_launchd.sh").toString(), "--uninstall", "--dry-run");
        assertThat(un.exit()).as(un.output()).isZero();
        assertThat(un.output()).contains("launchctl bootout");
    }
}
