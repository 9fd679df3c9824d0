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

    static List<Long> withEnv(String entry) {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : ds) {
                try {
                    String env = new String(Files.readAllBytes(p.resolve("environ")), StandardCharsets.UTF_8);
                    for (String e : env.split("\0")) {
                        if (e.equals(entry)) {
                            out.add(Long.parseLong(p.getFileName().toString()));
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
}
