package orchestrator.app;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Orchestrator processes as if each ran on a host of its own: every host gets an {@code ORCH_HOME} of its own
 * under one root (no shared disk but the store), all with the same environment otherwise ({@code DATABASE_URL},
 * tokens). Each start writes its output to {@code <host>/<host>-<n>.out}; closing kills what is still running.
 */
final class Hosts implements AutoCloseable {
    private final Path root;
    private final Map<String, String> common;
    private final List<OrchestratorProcess> started = new ArrayList<>();
    private final Map<String, Integer> starts = new HashMap<>();

    Hosts(Path root, Map<String, String> common) {
        this.root = root;
        this.common = Map.copyOf(common);
    }

    /** The host's own data folder, created on first use. */
    Path home(String host) {
        Path h = root.resolve(host);
        try {
            Files.createDirectories(h);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return h;
    }

    /** The environment a process on {@code host} runs with: the common one, its own ORCH_HOME, then {@code extra}. */
    Map<String, String> env(String host, Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(common);
        env.put("ORCH_HOME", home(host).toString());
        env.putAll(extra);
        return env;
    }

    synchronized OrchestratorProcess start(String host, Map<String, String> extra, String... args) throws IOException {
        int n = starts.merge(host, 1, Integer::sum);
        OrchestratorProcess p = OrchestratorProcess.start(home(host).resolve(host + "-" + n + ".out"), env(host, extra), args);
        started.add(p);
        return p;
    }

    /** Everything every process printed, for a failing test's message (the last {@code maxChars} of each). */
    synchronized String outputs(int maxChars) {
        StringBuilder sb = new StringBuilder();
        for (OrchestratorProcess p : started) {
            String out = p.output();
            sb.append("\n--- pid ").append(p.pid()).append(p.isAlive() ? " (running)" : " (ended)").append(":\n")
                    .append(out.length() > maxChars ? "…" + out.substring(out.length() - maxChars) : out);
        }
        return sb.toString();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public synchronized void close() throws InterruptedException {
        for (OrchestratorProcess p : started) {
            p.close();
        }
    }
}
