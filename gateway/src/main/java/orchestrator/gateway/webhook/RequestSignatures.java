package orchestrator.gateway.webhook;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
 * {@code WEBHOOK_HMAC_SECRETS=proj1=secret1|secret2,proj2=s3}: projects whose webhooks must be signed the
 * way GitHub signs them, {@code X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, raw body)>}. Several
 * secrets per project allow rotation: the sender switches to the new one while both are accepted. The
 * secrets are kept only inside {@link SecretKeySpec}s; {@link #toString()} lists project names.
 */
public final class RequestSignatures {
    public static final String VARIABLE = "WEBHOOK_HMAC_SECRETS";
    public static final String HEADER = "X-Hub-Signature-256";
    private static final String PREFIX = "sha256=";
    private static final String ALGORITHM = "HmacSHA256";

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

    public boolean requiredFor(String project) {
        return project != null && keys.containsKey(project);
    }

    public Set<String> projects() {
        return new TreeSet<>(keys.keySet());
    }

    /**
     * Checks the signature of {@code body} when {@code project} has secrets; does nothing otherwise.
     *
     * @throws ApiError 401 {@code signature_required} without the header, 401 {@code invalid_signature} when no
     *                  secret of the project produced it
     */
    public void verify(String project, byte[] body, String header) {
        if (!requiredFor(project)) {
            return;
        }
        if (header == null || header.isBlank()) {
            throw new ApiError(401, "signature_required", "project '" + project + "' requires a " + HEADER
                    + ": sha256=<hex HMAC-SHA256 of the body> header");
        }
        byte[] presented = presented(header.strip());
        boolean ok = false;
        for (SecretKeySpec key : keys.get(project)) {
            // every secret is tried, without stopping at a match: the time says nothing about which one matched
            ok |= presented != null && MessageDigest.isEqual(hmac(key, body), presented);
        }
        if (!ok) {
            throw new ApiError(401, "invalid_signature", "the " + HEADER + " header does not match the body");
        }
    }

    private static byte[] presented(String header) {
        if (!header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return null;
        }
        String hex = header.substring(PREFIX.length());
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
