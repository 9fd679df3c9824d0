package orchestrator.gateway;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import orchestrator.core.Json;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Invocable;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a request body before any route sees it, without a thread, within a deadline. Routes read bodies
 * with blocking calls; a client sending a few bytes a second kept one of Jetty's 250 threads for as long
 * as it liked, and a few hundred such clients left none for anyone else. Here the body arrives by Jetty's
 * demand callbacks into a buffer, and only a complete body is handed to the route (which then never blocks
 * on it); a body not complete within {@link #DEADLINE} is answered 408 {@code body_timeout} and the
 * connection closed.
 *
 * <p>What is not loaded, so that the order of checks of DESIGN §4 holds and nobody makes us buffer for free:
 * a request without a token we know (the route answers 401/403 without reading a byte; the dashboard's
 * {@code POST /ui/...} forms, which carry no bearer header, are the exception), a declared length
 * over the limit (the route's 413, unread), and anything past the limit of a chunked body (handed on at the
 * limit; the route's 413). At most {@link #MAX_LOADING} bodies load at once (each at most the body limit):
 * past that a new one is a 503 with {@code Retry-After}, which bounds the memory a token holder can pin.
 */
final class BodyDeadline extends Handler.Wrapper {
    /** Long enough for a 1 MB body over a slow mobile link; short enough that a trickle frees its slot soon. */
    static final Duration DEADLINE = Duration.ofSeconds(10);
    static final int MAX_LOADING = 1024;
    /** The provider hooks' paths ({@code /hooks/github/{project}}, {@code /hooks/slack}). */
    static final String HOOKS = "/hooks/";
    private static final Logger log = LoggerFactory.getLogger(BodyDeadline.class);

    private final long maxBytes;
    private final Predicate<String> knownToken;
    private final AtomicInteger loading = new AtomicInteger();

    /**
     * @param maxBytes   the body limit ({@code MAX_WEBHOOK_BODY_BYTES})
     * @param knownToken whether an {@code Authorization} header carries a configured token (no rate limit, no count)
     */
    BodyDeadline(long maxBytes, Predicate<String> knownToken) {
        this.maxBytes = maxBytes;
        this.knownToken = knownToken;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Handler next = getHandler();
        if (next == null) {
            return false;
        }
        long declared = request.getLength();
        boolean chunked = declared < 0 && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
        // GitHub's and Slack's hooks carry no token (a signature over the body instead), and the dashboard's forms no
        // bearer header (a cookie, or the sign-in form's token): theirs are read ahead too, so that a sign-in form or a
        // hook trickled a byte a second holds no thread either
        String path = request.getHttpURI().getPath();
        boolean hook = path != null && path.startsWith(HOOKS);
        boolean form = path != null && path.startsWith("/ui/") && "POST".equals(request.getMethod());
        if (!(declared > 0 && declared <= maxBytes || chunked)
                || !hook && !form && !knownToken.test(request.getHeaders().get(HttpHeader.AUTHORIZATION))) {
            return next.handle(request, response, callback);
        }
        if (loading.incrementAndGet() > MAX_LOADING) {
            loading.decrementAndGet();
            log.warn("{} request bodies are loading already: one more is refused (503)", MAX_LOADING);
            answer(request, response, callback, 503, "busy", "the server is reading too many request bodies; retry later",
                    Map.of("Retry-After", "5"));
            return true;
        }
        new Loader(next, request, response, callback).start();
        return true;
    }

    private static void answer(Request request, Response response, Callback callback, int status, String code, String message,
                               Map<String, String> headers) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        // the rest of the body is never read: the connection cannot carry another request
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        headers.forEach((k, v) -> response.getHeaders().put(k, v));
        byte[] json = Json.write(new ApiError(status, code, message).body()).getBytes(StandardCharsets.UTF_8);
        response.write(true, ByteBuffer.wrap(json), callback);
    }

    /** One body being loaded; {@code settled} decides, once, between handing it on and the deadline. */
    private final class Loader implements Invocable.Task {
        private final Handler next;
        private final Request request;
        private final Response response;
        private final Callback callback;
        private final ByteArrayOutputStream body = new ByteArrayOutputStream(1024);
        private final AtomicBoolean settled = new AtomicBoolean();
        private Scheduler.Task timeout;

        Loader(Handler next, Request request, Response response, Callback callback) {
            this.next = next;
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        void start() {
            timeout = request.getComponents().getScheduler().schedule(this::expire, DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            read(false);
        }

        /** Jetty calls this when more of the body has arrived. */
        @Override
        public void run() {
            read(true);
        }

        @Override
        public InvocationType getInvocationType() {
            // it only copies bytes; handing on to the (blocking) route is dispatched to a pool thread
            return InvocationType.NON_BLOCKING;
        }

        private void read(boolean fromCallback) {
            while (!settled.get()) {
                Content.Chunk chunk = request.read();
                if (chunk == null) {
                    request.demand(this);
                    return;
                }
                if (Content.Chunk.isFailure(chunk)) {
                    // a broken body (early EOF, bad chunk framing): the route reads the failure and answers it
                    handOn(chunk, fromCallback);
                    return;
                }
                ByteBuffer b = chunk.getByteBuffer();
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                chunk.release();
                body.write(bytes, 0, bytes.length);
                if (chunk.isLast() || body.size() > maxBytes) {
                    // past the limit the route sees more than it allows and answers 413 after its own checks
                    handOn(chunk.isLast() ? null : Content.Chunk.EMPTY, fromCallback);
                    return;
                }
            }
        }

        /** @param tail after the buffered bytes: null when they are the whole body, else what the route reads next */
        private void handOn(Content.Chunk tail, boolean fromCallback) {
            if (!settled.compareAndSet(false, true)) {
                return;
            }
            timeout.cancel();
            loading.decrementAndGet();
            Loaded loaded = new Loaded(request, body.toByteArray(), tail);
            Runnable handle = () -> {
                try {
                    if (!next.handle(loaded, response, callback)) {
                        Response.writeError(request, response, callback, 404);
                    }
                } catch (Throwable t) {
                    Response.writeError(request, response, callback, t);
                }
            };
            if (fromCallback) {
                request.getContext().execute(handle);
            } else {
                handle.run();
            }
        }

        private void expire() {
            if (!settled.compareAndSet(false, true)) {
                return;
            }
            loading.decrementAndGet();
            log.info("request body from {} not complete after {} s ({} bytes): 408", Request.getRemoteAddr(request),
                    DEADLINE.toSeconds(), body.size());
            answer(request, response, callback, 408, "body_timeout", "the request body did not arrive within "
                    + DEADLINE.toSeconds() + " s", Map.of());
        }
    }

    /** The request as the route sees it: the loaded bytes first, then (rarely) what is left on the wire. */
    private static final class Loaded extends Request.Wrapper {
        private Content.Chunk first;
        private Content.Chunk tail;

        Loaded(Request wrapped, byte[] body, Content.Chunk tail) {
            super(wrapped);
            this.first = Content.Chunk.from(ByteBuffer.wrap(body), tail == null);
            this.tail = tail;
        }

        @Override
        public synchronized Content.Chunk read() {
            if (first != null) {
                Content.Chunk c = first;
                first = null;
                return c;
            }
            if (tail != null && Content.Chunk.isFailure(tail)) {
                return tail;
            }
            if (tail == null) {
                return Content.Chunk.EOF;
            }
            return super.read();
        }

        @Override
        public void demand(Runnable demandCallback) {
            boolean ready;
            synchronized (this) {
                ready = first != null || tail == null || Content.Chunk.isFailure(tail);
            }
            if (ready) {
                demandCallback.run();
            } else {
                super.demand(demandCallback);
            }
        }
    }
}
