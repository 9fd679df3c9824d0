package orchestrator.gateway.jobs;

import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StoredFiles;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;

/**
 * {@code GET /jobs/{id}/artifacts/{path}}: one regular file from {@code <artifacts>/<job id>/}, never anything
 * outside it. A path that could not name a file inside the folder (a {@code ..} segment, leftover
 * percent-encoding, a backslash, NUL, an absolute path), a folder and a missing file are the same 404. A
 * file that is there but that an agent could have linked (a symlink anywhere on the way, a hard link, a
 * FIFO) is a 403 {@code unsafe_file} naming why; no link is ever followed, so neither answer says anything
 * about what exists elsewhere on the host. On PostgreSQL the file comes from the store's copy, so that every
 * gateway host serves it ({@link StoredFileSource}); the path checks are the same.
 */
public final class JobArtifacts {
    private final Admission admission;
    private final JobStore store;
    private final JobFileSource files;

    public JobArtifacts(Admission admission, JobStore store, Path artifactsDir) {
        this(admission, store, artifactsDir, Optional.empty());
    }

    /** @param stored the store's copy of the jobs' files (PostgreSQL), served first; empty: this host's folder only */
    public JobArtifacts(Admission admission, JobStore store, Path artifactsDir, Optional<StoredFiles> stored) {
        this.admission = admission;
        this.store = store;
        this.files = JobFileSource.of(artifactsDir, stored);
    }

    public void get(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        JobView job = JobRoutes.visible(store, token, ctx.pathParam("id"));
        String relative = ctx.pathParam("path");
        JobFileSource.Served file;
        try {
            file = files.artifact(job.id(), segments(relative)).orElseThrow(JobArtifacts::notFound);
        } catch (JobFiles.Refused e) {
            throw e.toApiError();
        }
        try {
            store.audit(job.id(), token.name(), "read artifact " + relative);
        } catch (RuntimeException e) {
            file.content().close();
            throw e;
        }
        ctx.status(200).contentType(contentType(relative.substring(relative.lastIndexOf('/') + 1)));
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Content-Disposition", "inline");
        ctx.result(file.content());
    }

    /** {@code GET /jobs/{id}/artifacts}: the job's files, by path, with their sizes and when they were written. */
    public void list(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        JobView job = JobRoutes.visible(store, token, ctx.pathParam("id"));
        List<Map<String, Object>> out = new java.util.ArrayList<>();
        for (JobFileSource.Listed f : files.list(job.id())) {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("path", f.path());
            m.put("size", f.size());
            m.put("modified_at", f.modifiedAt().toString());
            out.add(m);
        }
        store.audit(job.id(), token.name(), "listed artifacts");
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("job_id", job.id());
        body.put("artifacts", out);
        JobRoutes.json(ctx, 200, body);
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
