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
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(JobArtifacts.class);
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
        serve(ctx, token, ctx.pathParam("id"), ctx.pathParam("path"));
    }

    /** Answers one artifact file of job {@code id} for an admitted {@code token} (the API's or the dashboard's). */
    public void serve(Context ctx, ApiToken token, String id, String relative) throws IOException {
        JobView job = JobRoutes.visible(store, token, id);
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
        // an artifact is whatever an agent wrote: never a page that runs in our origin
        ctx.header("Content-Security-Policy", "sandbox; default-src 'none'");
        // the stream is of the file opened without following links (or the store's copy), not a path swapped since
        ctx.result(file.content());
    }

    /** {@code GET /jobs/{id}/artifacts}: the job's files, by path, with their sizes and when they were written. */
    public void list(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        JobView job = JobRoutes.visible(store, token, ctx.pathParam("id"));
        List<Map<String, Object>> out = new java.util.ArrayList<>();
        for (Listed f : listed(job.id())) {
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

    /** One file of a job's listing: its path inside the job folder, its size, when it was last written. */
    public record Listed(String path, long size, java.time.Instant modifiedAt) {
    }

    /**
     * The files of job {@code jobId} (already checked visible by the caller), by path, at most
     * {@link JobFileSource#MAX_LISTED}: from the store's copy on PostgreSQL, else this host's folder; the API's
     * listing and the dashboard's are this one.
     */
    public List<Listed> listed(String jobId) throws IOException {
        List<Listed> out = new java.util.ArrayList<>();
        for (JobFileSource.Listed f : files.list(jobId)) {
            out.add(new Listed(f.path(), f.size(), f.modifiedAt()));
        }
        return out;
    }

    /** A text artifact: at most the asked-for bytes of it as UTF-8, and whether it was longer. */
    public record Text(String text, boolean truncated) {
    }

    /**
     * Up to {@code maxBytes} of job {@code jobId}'s artifact {@code relative} as UTF-8, opened as {@link #serve}
     * opens it (the store's copy or this host's folder); empty when it is missing or refused (a planted link is
     * never read; the dashboard shows it as absent).
     */
    public Optional<Text> readText(String jobId, String relative, int maxBytes) {
        try {
            Optional<JobFileSource.Served> o = files.artifact(jobId, segments(relative));
            if (o.isEmpty()) {
                return Optional.empty();
            }
            try (java.io.InputStream in = o.get().content()) {
                byte[] bytes = in.readNBytes(maxBytes + 1);
                boolean truncated = bytes.length > maxBytes;
                int n = Math.min(bytes.length, maxBytes);
                return Optional.of(new Text(new String(bytes, 0, n, java.nio.charset.StandardCharsets.UTF_8), truncated));
            }
        } catch (IOException | ApiError e) {
            log.debug("artifact {} of job {} not shown: {}", relative, jobId, e.getMessage());
            return Optional.empty();
        }
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
