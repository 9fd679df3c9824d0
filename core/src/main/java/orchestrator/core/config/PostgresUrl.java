package orchestrator.core.config;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A PostgreSQL {@code DATABASE_URL} taken apart: {@code postgresql://user:pass@host:5432/db?sslmode=require},
 * {@code postgres://…} or {@code jdbc:postgresql://host/db?user=…&password=…}. The credentials are taken out
 * of the URL (percent-decoded) and kept apart, so that the JDBC URL handed to the pool, every log line and
 * every message carry no password; other query parameters (sslmode, …) pass through to the driver.
 *
 * @param jdbcUrl  {@code jdbc:postgresql://hosts/db[?other params]}, without user or password
 * @param user     the user, or null (the driver's default)
 * @param password the password, or null
 * @param hosts    {@code host:port} (or several, comma-separated), for messages
 * @param database the database name
 * @param poolSize {@code DATABASE_POOL_SIZE}: the most pooled connections one process opens
 */
public record PostgresUrl(String jdbcUrl, String user, String password, String hosts, String database, int poolSize) {
    /** The pool's size unless {@code DATABASE_POOL_SIZE} says otherwise. */
    public static final int DEFAULT_POOL_SIZE = 16;
    /**
     * The smallest pool that works: the job store's group writer, the stored files' writer and their change listener
     * each hold one connection while busy, and every other statement needs one more.
     */
    public static final int MIN_POOL_SIZE = 4;
    /** Connections a process holds outside its pool: the job store's {@code LISTEN} and, for a moment, the readiness probe. */
    public static final int CONNECTIONS_BESIDE_POOL = 2;

    /** The same URL with another pool size. */
    public PostgresUrl withPoolSize(int size) {
        return new PostgresUrl(jdbcUrl, user, password, hosts, database, size);
    }

    /** The most connections one process on this URL holds at once: DEPLOYMENT.md sizes {@code max_connections} by it. */
    public int connectionsPerProcess() {
        return poolSize + CONNECTIONS_BESIDE_POOL;
    }

    /** True for the values that name a PostgreSQL store. */
    public static boolean isPostgres(String url) {
        return url.startsWith("postgresql://") || url.startsWith("postgres://") || url.startsWith("jdbc:postgresql://");
    }

    /** @throws ConfigException naming {@code DATABASE_URL}, with no part of the password in the message */
    public static PostgresUrl parse(String url) {
        String rest = url.startsWith("jdbc:") ? url.substring("jdbc:".length()) : url;
        rest = rest.substring(rest.indexOf("://") + 3);
        int end = indexOfAny(rest, "/?");
        String authority = end < 0 ? rest : rest.substring(0, end);
        String tail = end < 0 ? "" : rest.substring(end);
        String user = null;
        String password = null;
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String info = authority.substring(0, at);
            authority = authority.substring(at + 1);
            int colon = info.indexOf(':');
            user = decode(colon < 0 ? info : info.substring(0, colon));
            password = colon < 0 ? null : decode(info.substring(colon + 1));
        }
        if (authority.isEmpty()) {
            throw new ConfigException("DATABASE_URL", "names no host: write postgresql://user:password@host:5432/database");
        }
        String database = tail.startsWith("/") ? tail.substring(1) : "";
        String query = "";
        int q = database.indexOf('?');
        if (q >= 0) {
            query = database.substring(q + 1);
            database = database.substring(0, q);
        } else if (tail.startsWith("?")) {
            query = tail.substring(1);
        }
        database = decode(database);
        if (database.isEmpty()) {
            throw new ConfigException("DATABASE_URL", "names no database: write postgresql://user:password@" + authority + "/database");
        }
        List<String> kept = new ArrayList<>();
        for (String param : query.split("&")) {
            if (param.isEmpty()) {
                continue;
            }
            int eq = param.indexOf('=');
            String key = eq < 0 ? param : param.substring(0, eq);
            String value = eq < 0 ? "" : decode(param.substring(eq + 1));
            if (key.equals("user")) {
                user = value;
            } else if (key.equals("password")) {
                password = value;
            } else {
                kept.add(param);
            }
        }
        String jdbc = "jdbc:postgresql://" + authority + "/" + database + (kept.isEmpty() ? "" : "?" + String.join("&", kept));
        return new PostgresUrl(jdbc, user == null || user.isEmpty() ? null : user, password, authority, database, DEFAULT_POOL_SIZE);
    }

    /** {@code postgresql://user@host:port/db}: what logs and messages show (never the password). */
    public String display() {
        return "postgresql://" + (user == null ? "" : user + "@") + hosts + "/" + database;
    }

    /** No password here either: a record's default toString would print it. */
    @Override
    public String toString() {
        return display();
    }

    private static int indexOfAny(String s, String chars) {
        for (int i = 0; i < s.length(); i++) {
            if (chars.indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return -1;
    }

    /** Percent-decoding as in a URL's user info ('+' stays '+', unlike a form's encoding). */
    private static String decode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < s.length()) {
            char ch = s.charAt(i);
            if (ch == '%') {
                int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
                int lo = i + 2 < s.length() ? Character.digit(s.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    // the message must not quote the text: it may be the password
                    throw new ConfigException("DATABASE_URL", "has a malformed %-escape in its user, password or database");
                }
                out.write(hi * 16 + lo);
                i += 3;
            } else {
                int cp = s.codePointAt(i);
                byte[] b = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
                i += Character.charCount(cp);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
