package orchestrator.app;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.testing.Waits;

/** A real orchestrator process started from the packaged jar (or the launcher), its output in a file. */
final class OrchestratorProcess implements AutoCloseable {
    static final Path JAR = Path.of("target/orchestrator.jar").toAbsolutePath();
    static final Path LAUNCHER = Path.of("../scripts/orchestrator").toAbsolutePath().normalize();

    private final Process process;
    private final Path output;

    private OrchestratorProcess(Process process, Path output) {
        this.process = process;
        this.output = output;
    }

    static OrchestratorProcess start(Path outputFile, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx256m", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return launch(cmd, outputFile, env);
    }

    static OrchestratorProcess launcher(Path outputFile, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString()));
        cmd.addAll(List.of(args));
        return launch(cmd, outputFile, env);
    }

    /** As {@link #start}, under {@code nohup}: the process starts with SIGHUP ignored. */
    static OrchestratorProcess nohup(Path outputFile, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("nohup", "java", "-Xmx256m", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return launch(cmd, outputFile, env);
    }

    /** As {@link #start}, in {@code workdir}: for env files with relative paths, as operators write them. */
    static OrchestratorProcess startIn(Path workdir, Path outputFile, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx256m", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return launch(cmd, outputFile, env, workdir);
    }

    private static OrchestratorProcess launch(List<String> cmd, Path outputFile, Map<String, String> env) throws IOException {
        return launch(cmd, outputFile, env, null);
    }

    private static OrchestratorProcess launch(List<String> cmd, Path outputFile, Map<String, String> env, Path workdir) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (workdir != null) {
            pb.directory(workdir.toFile());
        }
        pb.environment().keySet().removeIf(k -> k.startsWith("WEBHOOK_") || k.startsWith("ORCH_") || k.startsWith("HTTP_"));
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        pb.redirectOutput(outputFile.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        return new OrchestratorProcess(pb.start(), outputFile);
    }

    String output() {
        try {
            return Files.readString(output, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** Waits until the output has a line matching {@code regex}; returns its first group (or the whole match). */
    String awaitOutput(String regex, Duration timeout) {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = p.matcher(output());
            if (m.find()) {
                return m.groupCount() > 0 ? m.group(1) : m.group();
            }
            if (!process.isAlive()) {
                throw new AssertionError("process exited with " + process.exitValue() + " before printing /" + regex + "/:\n" + output());
            }
            Waits.pause();
        }
        throw new AssertionError("no line matching /" + regex + "/ within " + timeout + ":\n" + output());
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** The exit code of a process that has ended, or null while it runs. */
    Integer exitCode() {
        return process.isAlive() ? null : process.exitValue();
    }

    /** SIGHUP, as {@code systemctl reload} sends it. */
    void hangup() throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new AssertionError("kill -HUP " + process.pid() + " failed");
        }
    }

    /** Waits for the process to end by itself (a short command); its exit code. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("process did not exit within " + timeout + ":\n" + output());
        }
        return process.exitValue();
    }

    /** SIGKILL: the process gets no chance to clean up. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM and wait for the exit code. */
    int terminate(Duration timeout) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("process did not exit within " + timeout + " of SIGTERM:\n" + output());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
