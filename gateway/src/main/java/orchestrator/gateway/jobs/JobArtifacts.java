package orchestrator.gateway.jobs;

import io.javalin.http.Context;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;

/**
 * {@code GET /jobs/{id}/artifacts/{path}}: one regular file from {@code <artifacts>/<job id>/}, never anything
 * outside it. A path that could not name a file inside the folder (a {@code ..} segment, leftover
 * percent-encoding, a backslash, NUL, an absolute path), a folder and a missing file are the same 404. A
 * file that is there but that an agent could have linked (a symlink anywhere on the way, a hard link, a
 * FIFO) is a 403 {@code unsafe_file} naming why; no link is ever followed, so neither answer says anything
 * about what exists elsewhere on the host.
 */
public final class JobArtifacts {
    private final Admission admission;
    private final JobStore store;
    private final JobFiles files;

    public JobArtifacts(Admission admission, JobStore store, Path artifactsDir) {
        this.admission = admission;
        this.store = store;
        this.files = new JobFiles(artifactsDir);
    }

    public void get(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        serve(ctx, token, ctx.pathParam("id"), ctx.pathParam("path"));
    }

    /** Answers one artifact file of job {@code id} for an admitted {@code token} (the API's or the dashboard's). */
    public void serve(Context ctx, ApiToken token, String id, String relative) throws IOException {
        JobView job = JobRoutes.visible(store, token, id);
        JobFiles.Opened file;
        try {
            file = files.open(job.id(), segments(relative)).orElseThrow(JobArtifacts::notFound);
        } catch (JobFiles.Refused e) {
            throw e.toApiError();
        }
        try {
            store.audit(job.id(), token.name(), "read artifact " + relative);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
        ctx.status(200).contentType(contentType(relative.substring(relative.lastIndexOf('/') + 1)));
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Content-Disposition", "inline");
        // an artifact is whatever an agent wrote: never a page that runs in our origin
        ctx.header("Content-Security-Policy", "sandbox; default-src 'none'");
        // the stream is of the file opened without following links, not a path that could be swapped now
        ctx.result(Channels.newInputStream(file.channel()));
    }

    /**
     * The segments of {@code relative}, or a 404 for what must never be asked for: the textual checks keep
     * every request inside the job folder by name; {@link JobFiles} then refuses any link on the way.
     */
    static List<String> segments(String relative) {
        if (relative == null || relative.isEmpty() || relative.startsWith("/") || relative.indexOf('\\') >= 0
                || relative.indexOf('\0') >= 0 || relative.indexOf('%') >= 0 || relative.indexOf(':') >= 0) {
            throw notFound();
        }
        List<String> segments = List.of(relative.split("/", -1));
        for (String segment : segments) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw notFound();
            }
        }
        return segments;
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
