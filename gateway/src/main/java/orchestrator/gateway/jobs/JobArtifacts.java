package orchestrator.gateway.jobs;

import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Locale;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;

/**
 * {@code GET /jobs/{id}/artifacts/{path}}: one regular file from {@code <artifacts>/<job id>/}, never anything
 * outside it. Every refusal (a {@code ..} segment, leftover percent-encoding, a backslash, NUL, an absolute
 * path, a symlink whose target is outside the folder, a directory, a missing file) is the same 404, so the
 * answer says nothing about what exists elsewhere on the host.
 */
public final class JobArtifacts {
    private final Admission admission;
    private final JobStore store;
    private final Path artifactsDir;

    public JobArtifacts(Admission admission, JobStore store, Path artifactsDir) {
        this.admission = admission;
        this.store = store;
        this.artifactsDir = artifactsDir.toAbsolutePath().normalize();
    }

    public void get(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        JobView job = JobRoutes.visible(store, token, ctx.pathParam("id"));
        String relative = ctx.pathParam("path");
        Path file = resolve(artifactsDir.resolve(job.id()), relative);
        store.audit(job.id(), token.name(), "read artifact " + relative);
        ctx.status(200).contentType(contentType(file.getFileName().toString()));
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Content-Disposition", "inline");
        ctx.result(Files.newInputStream(file));
    }

    /**
     * The real path of {@code relative} inside {@code jobDir}, or a 404. The textual checks refuse what must
     * never be asked for; the real-path check is what actually holds (it resolves every symlink on the way).
     * A symlink swapped in after the check could still be followed; artifact folders are written only by
     * the runner, never by a client, which is why that window is acceptable here.
     */
    static Path resolve(Path jobDir, String relative) throws IOException {
        if (relative == null || relative.isEmpty() || relative.startsWith("/") || relative.indexOf('\\') >= 0
                || relative.indexOf('\0') >= 0 || relative.indexOf('%') >= 0 || relative.indexOf(':') >= 0) {
            throw notFound();
        }
        for (String segment : relative.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw notFound();
            }
        }
        Path candidate = jobDir.resolve(relative).normalize();
        if (!candidate.startsWith(jobDir) || !Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) {
            throw notFound();
        }
        Path real;
        Path realDir;
        try {
            real = candidate.toRealPath();
            realDir = jobDir.toRealPath();
        } catch (IOException e) {
            throw notFound();
        }
        if (!real.startsWith(realDir) || real.equals(realDir) || !Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
            throw notFound();
        }
        return real;
    }

    static String contentType(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.endsWith(".json")) {
            return "application/json";
        }
        if (n.endsWith(".md")) {
            return "text/markdown; charset=utf-8";
        }
        if (n.endsWith(".diff") || n.endsWith(".patch")) {
            return "text/x-diff; charset=utf-8";
        }
        if (n.endsWith(".txt") || n.endsWith(".log")) {
            return "text/plain; charset=utf-8";
        }
        return "application/octet-stream";
    }

    private static ApiError notFound() {
        return new ApiError(404, "not_found", "no such artifact");
    }
}
