package orchestrator.app;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finds live processes by an environment entry, as the runner marks its children. */
final class ProcessScan {
    private ProcessScan() {
    }

    /** The value of the environment variable {@code name} of every live process that has it: one pass over /proc. */
    static java.util.Map<Long, String> envValues(String name) {
        java.util.Map<Long, String> out = new java.util.HashMap<>();
        String prefix = name + "=";
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : ds) {
                try {
                    String env = new String(Files.readAllBytes(p.resolve("environ")), StandardCharsets.UTF_8);
                    for (String e : env.split("\0")) {
                        if (e.startsWith(prefix)) {
                            out.put(Long.parseLong(p.getFileName().toString()), e.substring(prefix.length()));
                            break;
                        }
                    }
                } catch (IOException | SecurityException e) {
                    // the process ended while we looked, or is not ours to read
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return out;
    }

    static List<Long> withEnv(String entry) {
        int eq = entry.indexOf('=');
        String value = entry.substring(eq + 1);
        List<Long> out = new ArrayList<>();
        envValues(entry.substring(0, eq)).forEach((pid, v) -> {
            if (v.equals(value)) {
                out.add(pid);
            }
        });
        return out;
    }
}
