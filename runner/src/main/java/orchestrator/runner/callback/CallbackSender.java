package orchestrator.runner.callback;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import orchestrator.core.store.Callback;
import orchestrator.core.store.JobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Delivers the completion callbacks of the store's outbox: claims due rows (so that two runners
 * never send the same attempt), POSTs each signed body, and records delivered / retry later /
 * failed. Retries back off exponentially ({@code base}, 2 × base … capped at {@value #MAX_BACKOFF_SEC} s).
 *
 * <p>SSRF guard: a callback URL comes from a payload, so a token holder could aim it at the
 * runner's own network. The host is resolved once; when any of its addresses is loopback,
 * link-local, private, unique-local or unspecified the callback is refused (unless
 * {@code CALLBACK_ALLOW_PRIVATE=1}), and otherwise the request goes to exactly the address that was
 * checked (a second lookup could answer differently: DNS rebinding). That is why this speaks
 * HTTP/1.1 over a socket itself: the JDK clients resolve the host again and refuse a custom
 * {@code Host} header. Redirects are never followed (a 3xx is a failed attempt).
 */
public final class CallbackSender {
    private static final Logger log = LoggerFactory.getLogger(CallbackSender.class);
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    static final Duration CLAIM_FOR = Duration.ofSeconds(60);
    static final long MAX_BACKOFF_SEC = 300;
    public static final int BATCH = 16;
    public static final Duration DEFAULT_BACKOFF_BASE = Duration.ofSeconds(1);
    private static final int MAX_ERROR_CHARS = 500;

    private final JobStore store;
    private final Clock clock;
    private final Supplier<Settings> settings;
    private final String actor;
    private final Duration backoffBase;

    /**
     * @param hmacSecret   signs the body, or null for no signature header
     * @param maxAttempts  attempts before the callback is {@code failed}
     * @param allowPrivate allow private and loopback addresses
     */
    public record Settings(String hmacSecret, int maxAttempts, boolean allowPrivate) {
        @Override
        public String toString() {
            return "Settings[signed=" + (hmacSecret != null) + ", maxAttempts=" + maxAttempts + ", allowPrivate=" + allowPrivate + "]";
        }
    }

    /** @param settings read before every batch, so a reload applies to the next delivery */
    public CallbackSender(JobStore store, Clock clock, Supplier<Settings> settings, String actor, Duration backoffBase) {
        this.store = store;
        this.clock = clock;
        this.settings = settings;
        this.actor = actor;
        this.backoffBase = backoffBase;
    }

    /** Claims and delivers the callbacks due now; returns how many were attempted. */
    public int deliverDue() {
        Settings s = settings.get();
        List<Callback> due = store.claimCallbacks(clock.instant(), CLAIM_FOR, BATCH);
        for (Callback cb : due) {
            MDC.put("job_id", cb.jobId());
            try {
                deliver(cb, s);
            } finally {
                MDC.remove("job_id");
            }
        }
        return due.size();
    }

    private void deliver(Callback cb, Settings s) {
        int attempt = cb.attempts();
        Result r;
        try {
            r = post(cb, attempt, s);
        } catch (RuntimeException e) {
            r = Result.retry("internal error: " + e);
        }
        if (r.delivered) {
            if (store.recordCallback(cb.jobId(), attempt, "delivered", clock.instant(), null)) {
                store.audit(cb.jobId(), actor, "callback delivered (HTTP " + r.status + ")");
                log.info("callback delivered to {} (HTTP {}, attempt {})", hostOf(cb.url()), r.status, attempt);
            }
            return;
        }
        String error = r.error.length() > MAX_ERROR_CHARS ? r.error.substring(0, MAX_ERROR_CHARS) + "…" : r.error;
        if (r.permanent || attempt >= s.maxAttempts()) {
            // refused (never sent: the SSRF guard, a bad URL) is told apart from failed (sent, never accepted),
            // so GET /jobs/{id} can say which one the client has to fix
            if (store.recordCallback(cb.jobId(), attempt, r.permanent ? "refused" : "failed", clock.instant(), error)) {
                String why = r.permanent ? "callback refused: " + error
                        : "callback failed after " + attempt + " attempts: " + error;
                store.audit(cb.jobId(), actor, why);
                log.warn("{}", why);
            }
            return;
        }
        Instant next = clock.instant().plus(backoff(attempt));
        store.recordCallback(cb.jobId(), attempt, "pending", next, error);
        log.info("callback attempt {} failed ({}); next at {}", attempt, error, next);
    }

    /** base × 2^(attempt − 1), capped at five minutes. */
    Duration backoff(int attempt) {
        long ms = backoffBase.toMillis() << Math.min(attempt - 1, 20);
        return Duration.ofMillis(Math.min(ms, MAX_BACKOFF_SEC * 1000));
    }

    private record Result(boolean delivered, int status, String error, boolean permanent) {
        static Result retry(String error) {
            return new Result(false, 0, error, false);
        }

        static Result refused(String error) {
            return new Result(false, 0, error, true);
        }
    }

    private Result post(Callback cb, int attempt, Settings s) {
        URI uri;
        try {
            uri = new URI(cb.url());
        } catch (URISyntaxException e) {
            return Result.refused("invalid URL: " + e.getMessage());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            return Result.refused("scheme '" + scheme + "' is not http or https");
        }
        String host = uri.getHost();
        if (host == null || uri.getUserInfo() != null) {
            return Result.refused("URL needs a host and no user info");
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            return Result.retry("cannot resolve " + host);
        }
        if (!s.allowPrivate()) {
            for (InetAddress a : addresses) {
                if (isPrivate(a)) {
                    return Result.refused(host + " resolves to " + a.getHostAddress()
                            + ", a loopback, link-local or private address (CALLBACK_ALLOW_PRIVATE=1 allows it)");
                }
            }
        }
        int port = uri.getPort() != -1 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
        byte[] body = cb.payload().getBytes(StandardCharsets.UTF_8);
        String path = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        String hostHeader = (host.contains(":") ? "[" + host + "]" : host) + (uri.getPort() == -1 ? "" : ":" + port);
        StringBuilder head = new StringBuilder();
        head.append("POST ").append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(hostHeader).append("\r\n");
        head.append("User-Agent: orchestrator-callback\r\n");
        head.append("Content-Type: application/json\r\n");
        head.append("Content-Length: ").append(body.length).append("\r\n");
        head.append("X-Orchestrator-Event: job.finished\r\n");
        head.append("X-Orchestrator-Delivery: ").append(cb.jobId()).append(':').append(attempt).append("\r\n");
        if (s.hmacSecret() != null) {
            head.append("X-Orchestrator-Signature-256: sha256=").append(sign(s.hmacSecret(), body)).append("\r\n");
        }
        head.append("Connection: close\r\n\r\n");

        InetAddress target = addresses[0];
        try (Socket socket = open(target, port, scheme.equals("https"), host)) {
            OutputStream out = socket.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            int status = readStatus(socket.getInputStream());
            if (status >= 200 && status < 300) {
                return new Result(true, status, null, false);
            }
            return new Result(false, status, "HTTP " + status + (status >= 300 && status < 400 ? " (redirects are not followed)" : ""), false);
        } catch (IOException e) {
            return Result.retry(e.getClass().getSimpleName() + ": " + e.getMessage() + " (" + target.getHostAddress() + ":" + port + ")");
        }
    }

    private static Socket open(InetAddress address, int port, boolean tls, String host) throws IOException {
        Socket plain = new Socket();
        try {
            plain.connect(new InetSocketAddress(address, port), (int) TIMEOUT.toMillis());
            plain.setSoTimeout((int) TIMEOUT.toMillis());
            if (!tls) {
                return plain;
            }
            // TLS to the checked address, with the URL's host name for SNI and certificate checks
            SSLSocket ssl = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault()).createSocket(plain, host, port, true);
            SSLParameters p = ssl.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            ssl.setSSLParameters(p);
            ssl.startHandshake();
            return ssl;
        } catch (IOException | RuntimeException e) {
            plain.close();
            throw e;
        }
    }

    /** The status code of the response's status line; the rest of the answer is not needed. */
    private static int readStatus(InputStream raw) throws IOException {
        InputStream in = new BufferedInputStream(raw);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            if (line.size() > 8192) {
                throw new IOException("status line too long");
            }
            line.write(b);
        }
        String s = line.toString(StandardCharsets.ISO_8859_1).strip();
        String[] parts = s.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("not an HTTP response: '" + (s.length() > 80 ? s.substring(0, 80) : s) + "'");
        }
        try {
            return Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("bad status line: " + s);
        }
    }

    /** Hex HMAC-SHA256 of the body: the receiver recomputes it with the shared secret. */
    public static String sign(String secret, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    /** Loopback, link-local, RFC 1918, unique-local (fc00::/7), CGNAT (100.64/10), 0/8, multicast. */
    static boolean isPrivate(InetAddress a) {
        if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress() || a.isAnyLocalAddress()
                || a.isMulticastAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet4Address) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            return first == 0 || first == 10 || first == 127 || first == 169 && second == 254
                    || first == 172 && (second & 0xf0) == 16 || first == 192 && second == 168
                    || first == 100 && (second & 0xc0) == 64;
        }
        if (a instanceof Inet6Address) {
            return (b[0] & 0xfe) == 0xfc;
        }
        return false;
    }

    private static String hostOf(String url) {
        try {
            return new URI(url).getHost();
        } catch (URISyntaxException e) {
            return "(invalid URL)";
        }
    }
}
