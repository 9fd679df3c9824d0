package orchestrator.gateway.webhook;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import orchestrator.core.config.ConfigException;
import orchestrator.gateway.ApiError;

/**
 * {@code WEBHOOK_HMAC_SECRETS=proj1=secret1|secret2,proj2=s3}: projects whose webhooks must be signed. Several
 * secrets per project allow rotation: the sender switches to the new one while both are accepted. The
 * secrets are kept only inside {@link SecretKeySpec}s; {@link #toString()} lists project names.
 *
 * <p>Two schemes are accepted:
 * <ul>
 *   <li><b>v1, timestamped</b> (like Stripe's and Slack's): {@code X-Orchestrator-Timestamp: <unix seconds>} and
 *       {@code X-Orchestrator-Signature: v1=<hex of HMAC-SHA256(secret, timestamp + "." + raw body)>}. A timestamp
 *       more than {@link #TOLERANCE} away from our clock is refused, so a captured request dies within minutes.</li>
 *   <li><b>plain</b>, the way GitHub signs: {@code X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, raw body)>}.
 *       Nothing in it says when it was sent, so it can be sent again at any time.</li>
 * </ul>
 * Either way {@link #verify} answers a replay key: a name for this exact signed request that a replay shares
 * and no one without the secret can forge. The intake uses it as the job's idempotency key, so the store (which
 * keeps {@code (project, idempotency_key)} unique, durably and across gateway hosts) turns a replay into the
 * answer for the first job instead of a second job.
 */
public final class RequestSignatures {
    public static final String VARIABLE = "WEBHOOK_HMAC_SECRETS";
    public static final String HEADER = "X-Hub-Signature-256";
    public static final String TIMESTAMP_HEADER = "X-Orchestrator-Timestamp";
    public static final String V1_HEADER = "X-Orchestrator-Signature";
    /** How far a v1 timestamp may be from our clock, either way: clock skew plus the sender's retries. */
    public static final Duration TOLERANCE = Duration.ofMinutes(5);
    private static final String PREFIX = "sha256=";
    private static final String V1_PREFIX = "v1=";
    private static final String ALGORITHM = "HmacSHA256";

    /** The signature headers of one request, any of them null when absent. */
    public record Presented(String hubSignature, String v1Signature, String timestamp) {
    }

    private final Map<String, List<SecretKeySpec>> keys;

    private RequestSignatures(Map<String, List<SecretKeySpec>> keys) {
        this.keys = Map.copyOf(keys);
    }

    public static RequestSignatures none() {
        return new RequestSignatures(Map.of());
    }

    /**
     * @param pairs    project to {@code secret1|secret2}, as {@code Env.pairs} read them
     * @param projects the configured projects; another name is a {@link ConfigException}
     */
    public static RequestSignatures parse(Map<String, String> pairs, Set<String> projects) {
        Map<String, List<SecretKeySpec>> keys = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : pairs.entrySet()) {
            String project = e.getKey();
            if (!projects.contains(project)) {
                // the project name only: a secret never reaches a message
                throw new ConfigException(VARIABLE, "names project '" + project + "', which is not in PROJECT_ALIASES "
                        + new TreeSet<>(projects));
            }
            List<SecretKeySpec> list = new ArrayList<>();
            for (String secret : e.getValue().split("\\|", -1)) {
                if (secret.isEmpty()) {
                    throw new ConfigException(VARIABLE, "project '" + project + "' has an empty secret; write proj=secret1|secret2");
                }
                list.add(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM));
            }
            keys.put(project, List.copyOf(list));
        }
        return new RequestSignatures(keys);
    }

    /** Secrets given as lists (GITHUB_WEBHOOK_SECRET and the rules file): a project with none is left out. */
    static RequestSignatures of(Map<String, List<String>> secrets) {
        Map<String, List<SecretKeySpec>> keys = new LinkedHashMap<>();
        secrets.forEach((project, list) -> {
            List<SecretKeySpec> specs = list.stream().filter(x -> !x.isEmpty())
                    .map(x -> new SecretKeySpec(x.getBytes(StandardCharsets.UTF_8), ALGORITHM)).toList();
            if (!specs.isEmpty()) {
                keys.put(project, specs);
            }
        });
        return new RequestSignatures(keys);
    }

    public boolean requiredFor(String project) {
        return project != null && keys.containsKey(project);
    }

    public Set<String> projects() {
        return new TreeSet<>(keys.keySet());
    }

    /**
     * Checks the signature of {@code body} when {@code project} has secrets; does nothing otherwise. A v1
     * signature is checked when its header is present (then a plain one is not looked at), else the plain one.
     *
     * @param now our clock, for the v1 timestamp
     * @return the replay key of the signed request ({@code sig-v1-<hex>} or {@code sig-<hex>}, the signature
     *         itself), or null when the project does not require signatures
     * @throws ApiError 401 {@code signature_required} without a signature, 401 {@code invalid_signature} when no
     *                  secret of the project produced it, 401 {@code invalid_timestamp} for a v1 signature without
     *                  a readable timestamp, 401 {@code stale_timestamp} when the timestamp is too far from now
     */
    public String verify(String project, byte[] body, Presented presented, Instant now) {
        if (!requiredFor(project)) {
            return null;
        }
        String v1 = blankToNull(presented.v1Signature());
        if (v1 != null) {
            return verifyV1(project, body, v1, blankToNull(presented.timestamp()), now);
        }
        String hub = blankToNull(presented.hubSignature());
        if (hub == null) {
            throw new ApiError(401, "signature_required", "project '" + project + "' requires a signature: "
                    + TIMESTAMP_HEADER + ": <unix seconds> with " + V1_HEADER + ": v1=<hex HMAC-SHA256 of timestamp.body>, or "
                    + HEADER + ": sha256=<hex HMAC-SHA256 of the body>");
        }
        byte[] sig = presented(hub, PREFIX);
        if (!matches(project, body, sig)) {
            throw new ApiError(401, "invalid_signature", "the " + HEADER + " header does not match the body");
        }
        return "sig-" + HexFormat.of().formatHex(sig);
    }

    private String verifyV1(String project, byte[] body, String header, String timestamp, Instant now) {
        if (timestamp == null || timestamp.length() > 12 || !timestamp.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new ApiError(401, "invalid_timestamp", "a " + V1_HEADER + " needs " + TIMESTAMP_HEADER
                    + ": <unix seconds>, the same value that was signed");
        }
        byte[] sig = presented(header, V1_PREFIX);
        // the signature first: a timestamp is believed, and judged, only once we know the sender wrote it
        if (!matches(project, signedV1(timestamp, body), sig)) {
            throw new ApiError(401, "invalid_signature", "the " + V1_HEADER + " header does not match "
                    + TIMESTAMP_HEADER + " and the body");
        }
        long skew = Math.abs(now.getEpochSecond() - Long.parseLong(timestamp));
        if (skew > TOLERANCE.toSeconds()) {
            throw new ApiError(401, "stale_timestamp", "the signed " + TIMESTAMP_HEADER + " is " + skew
                    + " s from this server's clock; at most " + TOLERANCE.toSeconds() + " s is accepted (sign each request when it is sent)");
        }
        return "sig-v1-" + HexFormat.of().formatHex(sig);
    }

    private boolean matches(String project, byte[] signed, byte[] presented) {
        boolean ok = false;
        for (SecretKeySpec key : keys.get(project)) {
            // every secret is tried, without stopping at a match: the time says nothing about which one matched
            ok |= presented != null && MessageDigest.isEqual(hmac(key, signed), presented);
        }
        return ok;
    }

    private static byte[] signedV1(String timestamp, byte[] body) {
        byte[] head = (timestamp + ".").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    private static byte[] presented(String header, String prefix) {
        if (!header.regionMatches(true, 0, prefix, 0, prefix.length())) {
            return null;
        }
        String hex = header.substring(prefix.length());
        if (hex.length() != 64) {
            return null;
        }
        try {
            return HexFormat.of().parseHex(hex.toLowerCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The header value a sender computes; public for tests and for the example script's docs. */
    public static String sign(String secret, byte[] body) {
        return PREFIX + HexFormat.of().formatHex(hmac(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM), body));
    }

    /** The v1 header value for a request signed at {@code timestamp} (unix seconds); public for tests and senders' docs. */
    public static String signV1(String secret, long timestamp, byte[] body) {
        return V1_PREFIX + HexFormat.of().formatHex(hmac(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM),
                signedV1(Long.toString(timestamp), body)));
    }

    /** HMAC-SHA256 of {@code data} with a raw secret (Slack's signing secret). */
    static byte[] hmac(byte[] secret, byte[] data) {
        return hmac(new SecretKeySpec(secret, ALGORITHM), data);
    }

    private static byte[] hmac(SecretKeySpec key, byte[] body) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(key);
            return mac.doFinal(body);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("every Java runtime has " + ALGORITHM, e);
        }
    }

    @Override
    public String toString() {
        return "RequestSignatures" + projects();
    }
}
