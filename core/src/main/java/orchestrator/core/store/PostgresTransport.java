package orchestrator.core.store;

import java.util.List;
import java.util.Locale;

/**
 * How a process's connections reach the PostgreSQL server: encrypted or not, whether the server's certificate
 * and name are checked ({@code sslmode} of {@code DATABASE_URL}), and whether they leave this host at all. On
 * several hosts every prompt, log and artifact crosses the network to the server, so doctor says when that is
 * in plain text or to a server whose certificate nobody checks; and a refused TLS connection gets a hint that
 * says which part of {@code DATABASE_URL} or the server to change, not only the driver's words.
 *
 * @param encrypted whether this connection is TLS ({@code pg_stat_ssl})
 * @param protocol  {@code TLSv1.3}, or null when not encrypted
 * @param sslmode   the driver's sslmode for {@code DATABASE_URL}: what it says, or what the driver takes
 * @param hosts     {@code host:port}, comma-separated when several, as {@code DATABASE_URL} names them
 */
public record PostgresTransport(boolean encrypted, String protocol, String sslmode, String hosts) {
    /** The driver's sslmodes that check the server's certificate against {@code sslrootcert}. */
    private static final List<String> VERIFYING = List.of("verify-ca", "verify-full");

    /**
     * The sslmode the PostgreSQL JDBC driver uses for a URL: its {@code sslmode} parameter; else
     * {@code verify-full} when it says {@code ssl=true} (the driver's rule); else {@code prefer}, the driver's
     * default, which encrypts when the server offers TLS and checks no certificate.
     */
    public static String sslmode(String jdbcUrl) {
        int q = jdbcUrl.indexOf('?');
        String mode = null;
        boolean ssl = false;
        if (q >= 0) {
            for (String param : jdbcUrl.substring(q + 1).split("&")) {
                int eq = param.indexOf('=');
                String key = eq < 0 ? param : param.substring(0, eq);
                String value = eq < 0 ? "" : param.substring(eq + 1);
                if (key.equals("sslmode")) {
                    mode = value.toLowerCase(Locale.ROOT);
                } else if (key.equals("ssl")) {
                    ssl = value.isEmpty() || value.equalsIgnoreCase("true");
                }
            }
        }
        return mode != null ? mode : ssl ? "verify-full" : "prefer";
    }

    /** True when every host of {@code DATABASE_URL} is this machine: nothing crosses a network. */
    public boolean loopback() {
        for (String hostPort : hosts.split(",")) {
            String host = hostPort.strip();
            if (host.startsWith("[")) {
                host = host.substring(1, Math.max(1, host.indexOf(']')));
            } else if (host.indexOf(':') >= 0) {
                host = host.substring(0, host.lastIndexOf(':'));
            }
            host = host.toLowerCase(Locale.ROOT);
            if (!(host.equals("localhost") || host.equals("::1") || host.startsWith("127."))) {
                return false;
            }
        }
        return true;
    }

    /** Whether the server's certificate is checked against {@code sslrootcert}. */
    public boolean verified() {
        return encrypted && VERIFYING.contains(sslmode);
    }

    /** What an operator should know: null when nothing is wrong, else the warning. */
    public String problem() {
        if (loopback() || verified()) {
            return null;
        }
        String fix = "add sslmode=verify-full&sslrootcert=/etc/orchestrator/postgres-ca.crt to DATABASE_URL"
                + " (docs/DEPLOYMENT.md, TLS to PostgreSQL)";
        if (!encrypted) {
            return "connections to " + hosts + " are not encrypted (sslmode=" + sslmode + "): every prompt, log and artifact"
                    + " crosses the network in plain text; turn ssl on in the server's postgresql.conf and " + fix;
        }
        return "connections to " + hosts + " are encrypted (" + protocol + ") but the server's certificate is not checked"
                + " (sslmode=" + sslmode + "): a host that answers for " + hosts + " reads every prompt, log and artifact; " + fix;
    }

    /** The line doctor prints when {@link #problem()} is null. */
    public String describe() {
        if (verified()) {
            return "connections to " + hosts + " are encrypted (" + protocol + ") and the server's certificate is checked"
                    + (sslmode.equals("verify-full") ? ", with its host name" : ", not its host name")
                    + " (sslmode=" + sslmode + ")";
        }
        return "connections stay on this host (" + hosts + "), " + (encrypted ? "encrypted (" + protocol + ")" : "not encrypted")
                + " (sslmode=" + sslmode + ")";
    }

    /** The driver's reason for a refused connection, followed by {@link #hint} when there is one. */
    public static String explain(String driverMessage) {
        String hint = hint(driverMessage);
        if (hint.isEmpty()) {
            return driverMessage;
        }
        String m = driverMessage.strip();
        return (m.endsWith(".") ? m.substring(0, m.length() - 1) : m) + hint;
    }

    /**
     * What to change when the driver refused to connect for a reason of TLS, of pg_hba.conf or of a connection
     * limit: appended to its message, or "" when the message is about something else. Never quotes the URL (it may hold the password).
     */
    public static String hint(String driverMessage) {
        String m = driverMessage == null ? "" : driverMessage;
        if (m.contains("PKIX path") || m.contains("unable to find valid certification path")) {
            return "; the server's certificate is not signed by the certificate in DATABASE_URL's sslrootcert:"
                    + " name the CA that signed the server's certificate";
        }
        if (m.contains("could not be verified by hostnameverifier")) {
            return "; the server's certificate does not name the host DATABASE_URL connects to: connect by a name in its"
                    + " subjectAltName, or reissue it with this one (sslmode=verify-ca checks the signature and not the name)";
        }
        if (m.contains("Could not open SSL root certificate file")) {
            return "; sslmode=verify-ca and verify-full need the CA certificate that signed the server's:"
                    + " name a readable file with sslrootcert=/path in DATABASE_URL";
        }
        if (m.contains("does not support SSL")) {
            return "; sslmode asks for TLS and the server has ssl off: turn ssl on in its postgresql.conf";
        }
        if (m.contains("no encryption")) {
            return "; the server takes only TLS connections from this host (hostssl in pg_hba.conf): connect with"
                    + " sslmode=verify-full&sslrootcert=/path in DATABASE_URL, to a server with ssl on";
        }
        if (m.contains("no pg_hba.conf entry")) {
            return "; no line of the server's pg_hba.conf lets this host connect as this user to this database: add one"
                    + " (hostssl DATABASE USER ADDRESS/32 scram-sha-256) and reload the server";
        }
        if (m.contains("too many clients already") || m.contains("remaining connection slots are reserved")) {
            return "; the server has no connection left (max_connections): raise it, or lower DATABASE_POOL_SIZE on hosts"
                    + " that need few (docs/DEPLOYMENT.md, PostgreSQL sizing); orchestrator doctor shows the connections in use";
        }
        if (m.contains("too many connections for role")) {
            return "; the user's CONNECTION LIMIT is reached: raise it (ALTER ROLE … CONNECTION LIMIT n) to at least the sum,"
                    + " over every orchestrator process that connects as it, of DATABASE_POOL_SIZE + 2; or lower DATABASE_POOL_SIZE";
        }
        if (m.contains("too many connections for database")) {
            return "; the database's CONNECTION LIMIT is reached: raise it (ALTER DATABASE … CONNECTION LIMIT n) to at least the sum,"
                    + " over every orchestrator process that connects to it, of DATABASE_POOL_SIZE + 2; or lower DATABASE_POOL_SIZE";
        }
        return "";
    }
}
