package orchestrator.core.store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** Loads named statements ({@code -- name: x}) from a classpath resource. */
final class SqlFile {
    private final Map<String, String> statements;
    private final String resource;

    private SqlFile(String resource, Map<String, String> statements) {
        this.resource = resource;
        this.statements = Map.copyOf(statements);
    }

    static String read(String resource) {
        try (InputStream in = SqlFile.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + resource);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + resource, e);
        }
    }

    static SqlFile load(String resource) {
        Map<String, String> out = new HashMap<>();
        String name = null;
        StringBuilder sb = new StringBuilder();
        for (String line : read(resource).split("\n")) {
            if (line.startsWith("-- name:")) {
                if (name != null) {
                    out.put(name, sb.toString().strip());
                }
                name = line.substring("-- name:".length()).strip();
                sb.setLength(0);
            } else if (name != null && !line.stripLeading().startsWith("--")) {
                sb.append(line).append('\n');
            }
        }
        if (name != null) {
            out.put(name, sb.toString().strip());
        }
        return new SqlFile(resource, out);
    }

    String get(String name) {
        String s = statements.get(name);
        if (s == null) {
            throw new IllegalStateException("no statement '" + name + "' in " + resource);
        }
        return s;
    }
}
