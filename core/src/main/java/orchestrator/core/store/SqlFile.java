package orchestrator.core.store;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Loads named statements ({@code -- name: x}) from classpath resources: the shared file first, then a
 * dialect's file, whose statements of the same name replace the shared ones.
 *
 * <p>Statements may number their parameters ({@code ?3}) to use one value twice. SQLite understands that
 * itself; for a driver that does not (PostgreSQL's), {@link #load(boolean, String...)} rewrites each
 * {@code ?N} to a plain {@code ?} and {@link #prepare} hands out a statement on which {@code setX(N, v)}
 * sets every place that names {@code ?N}, so the Java that binds a statement is the same for both.
 */
final class SqlFile {
    private static final Pattern NUMBERED = Pattern.compile("\\?(\\d+)");

    private final Map<String, String> statements;
    /** For rewritten statements: the parameter number (1-based) of each plain {@code ?}, in order. */
    private final Map<String, int[]> positions;
    private final String resource;

    private SqlFile(String resource, Map<String, String> statements, Map<String, int[]> positions) {
        this.resource = resource;
        this.statements = Map.copyOf(statements);
        this.positions = Map.copyOf(positions);
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

    /** One file, numbered parameters left to the driver. */
    static SqlFile load(String resource) {
        return load(true, resource);
    }

    /**
     * Several files, later ones overriding earlier statements of the same name.
     *
     * @param numberedParameters true when the driver understands {@code ?N} itself
     */
    static SqlFile load(boolean numberedParameters, String... resources) {
        Map<String, String> out = new HashMap<>();
        for (String resource : resources) {
            parse(read(resource), out);
        }
        Map<String, int[]> positions = new HashMap<>();
        if (!numberedParameters) {
            for (Map.Entry<String, String> e : out.entrySet()) {
                Matcher m = NUMBERED.matcher(e.getValue());
                if (!m.find()) {
                    continue;
                }
                List<Integer> order = new ArrayList<>();
                StringBuilder sb = new StringBuilder();
                m.reset();
                while (m.find()) {
                    order.add(Integer.parseInt(m.group(1)));
                    m.appendReplacement(sb, "?");
                }
                m.appendTail(sb);
                e.setValue(sb.toString());
                positions.put(e.getKey(), order.stream().mapToInt(Integer::intValue).toArray());
            }
        }
        return new SqlFile(String.join(" + ", resources), out, positions);
    }

    private static void parse(String text, Map<String, String> out) {
        String name = null;
        StringBuilder sb = new StringBuilder();
        for (String line : text.split("\n")) {
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
    }

    String get(String name) {
        String s = statements.get(name);
        if (s == null) {
            throw new IllegalStateException("no statement '" + name + "' in " + resource);
        }
        return s;
    }

    /** The named statement prepared on {@code c}; {@code setX(n, v)} binds parameter {@code ?n} wherever it appears. */
    PreparedStatement prepare(Connection c, String name) throws SQLException {
        PreparedStatement ps = c.prepareStatement(get(name));
        int[] order = positions.get(name);
        return order == null ? ps : numbered(ps, order);
    }

    /** Fans every {@code setX(n, …)} out to the plain parameters that stand for {@code ?n}. */
    private static PreparedStatement numbered(PreparedStatement ps, int[] order) {
        return (PreparedStatement) Proxy.newProxyInstance(SqlFile.class.getClassLoader(), new Class<?>[] {PreparedStatement.class},
                (proxy, method, args) -> {
                    try {
                        if (method.getName().startsWith("set") && args != null && args.length >= 2
                                && method.getParameterTypes()[0] == int.class) {
                            int n = (Integer) args[0];
                            for (int i = 0; i < order.length; i++) {
                                if (order[i] == n) {
                                    Object[] a = args.clone();
                                    a[0] = i + 1;
                                    method.invoke(ps, a);
                                }
                            }
                            return null;
                        }
                        if (method.getName().equals("unwrap") && args[0] == PreparedStatement.class) {
                            return ps;
                        }
                        return method.invoke(ps, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}
