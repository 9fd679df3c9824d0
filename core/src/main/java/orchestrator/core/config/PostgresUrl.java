package orchestrator.core.config;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * A PostgreSQL store's address as an operator writes it ({@code postgresql://user:password@host:5432/db},
 * also {@code postgres://} and {@code jdbc:postgresql://host:5432/db?user=…}), taken apart for the driver:
 * the JDBC URL without credentials, the user and the password. {@link #where()} and {@link #toString()}
 * name host, port and database only: what messages may show.
 */
public record PostgresUrl(String jdbcUrl, String user, String password, String where) {
    private static final int DEFAULT_PORT = 5432;

    @Override
    public String toString() {
        return "postgresql://" + (user == null ? "" : user + "@") + where;
    }

    /** True when {@code url} names a PostgreSQL store (any of the accepted schemes). */
    public static boolean matches(String url) {
        return url != null && (url.startsWith("postgresql://") || url.startsWith("postgres://") || url.startsWith("jdbc:postgresql://"));
    }

    /**
     * @param variable what the value came from ({@code DATABASE_URL}, {@code --to}), for the error
     * @throws ConfigException naming {@code variable} when the URL has no host or database; never quoting the value
     */
    public static PostgresUrl parse(String variable, String url) {
        if (!matches(url)) {
            throw new ConfigException(variable, "must be postgresql://user:password@host:5432/database");
        }
        boolean jdbc = url.startsWith("jdbc:");
        String rest = url.substring(url.indexOf("//") + 2);
        String query = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String user = null;
        String password = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String info = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = info.indexOf(':');
            user = decode(colon < 0 ? info : info.substring(0, colon));
            password = colon < 0 ? null : decode(info.substring(colon + 1));
        }
        int slash = rest.indexOf('/');
        String hostPort = slash < 0 ? rest : rest.substring(0, slash);
        String db = slash < 0 ? "" : rest.substring(slash + 1);
        if (hostPort.isEmpty() || db.isEmpty()) {
            throw new ConfigException(variable, "must name a host and a database: postgresql://user:password@host:5432/database");
        }
        if (!hostPort.contains(":") || hostPort.endsWith("]")) {
            hostPort = hostPort + ":" + DEFAULT_PORT;
        }
        if (jdbc && query != null) {
            // the JDBC form may carry user and password as parameters: taken out like the userinfo
            StringBuilder kept = new StringBuilder();
            for (String p : query.split("&")) {
                if (p.startsWith("user=")) {
                    user = decode(p.substring(5));
                } else if (p.startsWith("password=")) {
                    password = decode(p.substring(9));
                } else if (!p.isEmpty()) {
                    kept.append(kept.length() == 0 ? "" : "&").append(p);
                }
            }
            query = kept.length() == 0 ? null : kept.toString();
        }
        String where = hostPort + "/" + db;
        return new PostgresUrl("jdbc:postgresql://" + where + (query == null ? "" : "?" + query), user, password, where);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
}
