package orchestrator.gateway.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;

/**
 * A configured bearer token, kept only as its SHA-256 digest so that neither a log line, a heap dump of
 * the config nor {@code toString()} can show the secret.
 *
 * @param name     what the audit log records as the actor: {@code default}, {@code dev} or {@code token-<8 hex>}
 * @param digest   SHA-256 of the token's UTF-8 bytes
 * @param projects the projects this token may use; ignored when {@code everyProject}
 * @param everyProject scope {@code *}: every project, and jobs without a project
 * @param readOnly     a {@code WEBHOOK_TOKENS} entry ending in {@code :ro}: it may read what its scope sees, but
 *                     not submit jobs nor act on jobs or schedules (403 {@code read_only_token})
 */
public record ApiToken(String name, byte[] digest, Set<String> projects, boolean everyProject, boolean readOnly) {
    public ApiToken {
        Objects.requireNonNull(name, "name");
        digest = digest.clone();
        projects = everyProject ? Set.of() : Set.copyOf(projects);
    }

    /** A token that may act. */
    public ApiToken(String name, byte[] digest, Set<String> projects, boolean everyProject) {
        this(name, digest, projects, everyProject, false);
    }

    /** The same token, read-only. */
    public ApiToken asReadOnly() {
        return new ApiToken(name, digest, projects, everyProject, true);
    }

    /** A token for every project. */
    public static ApiToken unscoped(String name, String secret) {
        return new ApiToken(name, sha256(secret), Set.of(), true);
    }

    public static ApiToken scoped(String name, String secret, Set<String> projects) {
        return new ApiToken(name, sha256(secret), projects, false);
    }

    /** The name a {@code WEBHOOK_TOKENS} entry gets: stable across restarts, useless for guessing the token. */
    public static String derivedName(String secret) {
        return "token-" + HexFormat.of().formatHex(sha256(secret)).substring(0, 8);
    }

    /** True when this token may see or submit jobs of {@code project} (null: a job without a project). */
    public boolean sees(String project) {
        return everyProject || project != null && projects.contains(project);
    }

    /**
     * Which jobs a listing by this token covers: those of {@code project} when it names one this token sees,
     * otherwise every project this token sees (and, for a {@code *} token, the jobs without a project).
     *
     * @return empty when {@code project} is one this token may not see
     */
    public java.util.Optional<Listing> listing(String project) {
        if (project != null) {
            return sees(project) ? java.util.Optional.of(new Listing(Set.of(project), false)) : java.util.Optional.empty();
        }
        return java.util.Optional.of(everyProject ? new Listing(null, true) : new Listing(projects, false));
    }

    /** A listing's scope, as {@link orchestrator.core.store.JobQuery} takes it (projects null: every project). */
    public record Listing(Set<String> projects, boolean includeUnscoped) {
    }

    @Override
    public byte[] digest() {
        return digest.clone();
    }

    boolean matches(byte[] presentedDigest) {
        return MessageDigest.isEqual(digest, presentedDigest);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ApiToken t && t.name.equals(name) && MessageDigest.isEqual(t.digest, digest)
                && t.projects.equals(projects) && t.everyProject == everyProject && t.readOnly == readOnly;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, projects, everyProject, readOnly);
    }

    @Override
    public String toString() {
        return "ApiToken[" + name + ", " + (everyProject ? "*" : String.join("|", projects)) + (readOnly ? ", read-only" : "") + "]";
    }

    static byte[] sha256(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
