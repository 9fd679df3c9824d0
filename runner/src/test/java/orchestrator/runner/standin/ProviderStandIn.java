package orchestrator.runner.standin;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;

/**
 * A model provider's HTTP API on 127.0.0.1, just enough of it for a real agent CLI to finish a run,
 * scripted per test. Each subclass speaks one provider's wire format; this class owns the server,
 * the record of every request it received, the queue of scripted replies to model calls, and the
 * streams that stall or never end (released when the stand-in closes, so no handler outlives it).
 *
 * <p>A model call (as the subclass recognises it) takes the next scripted {@link Reply}, or the
 * subclass's default when the script is empty; every other request (model lists, token counts,
 * telemetry) gets {@link #other}.
 */
public abstract class ProviderStandIn implements AutoCloseable {
    /** One request as received: headers with lower-case names, the body as text. */
    public record Request(String method, String path, String query, Map<String, List<String>> headers, String body) {
        public JsonNode json() {
            return body.isEmpty() ? Json.mapper().missingNode() : Json.parse(body);
        }

        public String header(String name) {
            List<String> v = headers.get(name.toLowerCase(java.util.Locale.ROOT));
            return v == null || v.isEmpty() ? null : v.get(0);
        }
    }

    /** How the stand-in answers one model call. */
    @FunctionalInterface
    public interface Reply {
        void send(Exchange ex) throws IOException;
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "provider-stand-in");
        t.setDaemon(true);
        return t;
    });
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<Request> modelCalls = new CopyOnWriteArrayList<>();
    private final ConcurrentLinkedDeque<Reply> script = new ConcurrentLinkedDeque<>();
    private final CountDownLatch closed = new CountDownLatch(1);

    protected ProviderStandIn() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        } catch (IOException e) {
            throw new IllegalStateException("cannot bind a stand-in on 127.0.0.1", e);
        }
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
    }

    /** {@code http://127.0.0.1:PORT} without a trailing slash. */
    public final String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Queues replies for the next model calls, in order. */
    public final ProviderStandIn then(Reply... replies) {
        script.addAll(List.of(replies));
        return this;
    }

    /** Every request received so far, model calls or not. */
    public final List<Request> requests() {
        return List.copyOf(requests);
    }

    /** The model calls received so far (the requests {@link #isModelCall} accepted). */
    public final List<Request> modelCalls() {
        return List.copyOf(modelCalls);
    }

    /** True for a request that asks the model for a turn and so takes the next scripted reply. */
    protected abstract boolean isModelCall(Request r);

    /** The reply to a model call when the script is empty. */
    protected abstract Reply defaultReply(Request r);

    /** Answers a request that is not a model call; by default an empty JSON object. */
    protected void other(Exchange ex) throws IOException {
        ex.json(200, "{}");
    }

    private void handle(HttpExchange raw) {
        try (raw) {
            Map<String, List<String>> headers = new LinkedHashMap<>();
            raw.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), List.copyOf(v)));
            String body = new String(raw.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Request r = new Request(raw.getRequestMethod(), raw.getRequestURI().getPath(), raw.getRequestURI().getRawQuery(),
                    headers, body);
            requests.add(r);
            Exchange ex = new Exchange(raw, r);
            if (isModelCall(r)) {
                modelCalls.add(r);
                Reply next = script.pollFirst();
                (next != null ? next : defaultReply(r)).send(ex);
            } else {
                other(ex);
            }
        } catch (IOException | RuntimeException e) {
            // the client went away (a killed CLI) or the stand-in closed: nothing to answer
        }
    }

    @Override
    public void close() {
        closed.countDown();
        server.stop(0);
        pool.shutdownNow();
        try {
            pool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One exchange being answered. */
    public final class Exchange {
        private final HttpExchange raw;
        private final Request request;

        Exchange(HttpExchange raw, Request request) {
            this.raw = raw;
            this.request = request;
        }

        public Request request() {
            return request;
        }

        /** A whole JSON answer. */
        public void json(int status, String body) throws IOException {
            json(status, Map.of(), body);
        }

        public void json(int status, Map<String, String> headers, String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            raw.getResponseHeaders().set("Content-Type", "application/json");
            headers.forEach((k, v) -> raw.getResponseHeaders().set(k, v));
            raw.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
            if (b.length > 0) {
                try (OutputStream out = raw.getResponseBody()) {
                    out.write(b);
                }
            }
        }

        /** Starts a streamed answer (chunked) with this content type. */
        public Stream stream(int status, String contentType) throws IOException {
            raw.getResponseHeaders().set("Content-Type", contentType);
            raw.getResponseHeaders().set("Cache-Control", "no-cache");
            raw.sendResponseHeaders(status, 0);
            return new Stream(raw.getResponseBody());
        }

        /** Starts a server-sent-events answer. */
        public Stream sse() throws IOException {
            return stream(200, "text/event-stream");
        }
    }

    /** A streamed body: each write is flushed at once, so the client sees it as it is sent. */
    public final class Stream {
        private final OutputStream out;

        Stream(OutputStream out) {
            this.out = out;
        }

        /** One SSE event: {@code event: name} (left out when null) and {@code data: json}. */
        public Stream event(String name, String data) throws IOException {
            return raw((name == null ? "" : "event: " + name + "\n") + "data: " + data + "\n\n");
        }

        /** Bytes as they are, flushed. */
        public Stream raw(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
            return this;
        }

        public void end() throws IOException {
            out.close();
        }

        /** Sends nothing more and keeps the connection open until the stand-in closes: a stalled stream. */
        public void stall() throws IOException {
            awaitClose(null);
            out.close();
        }

        /**
         * Sends {@code keepAlive} every {@code period} and never finishes: a stream that never ends
         * (bytes keep coming, so only a wall timeout can end the step).
         */
        public void forever(String keepAlive, Duration period) throws IOException {
            forever(n -> keepAlive, period);
        }

        /**
         * As {@link #forever(String, Duration)}, with the {@code n}-th piece sent made by {@code piece}
         * (from 1): for a CLI that stops a stream repeating itself.
         */
        public void forever(java.util.function.LongFunction<String> piece, Duration period) throws IOException {
            for (long n = 1; ; n++) {
                raw(piece.apply(n));
                if (awaitClose(period)) {
                    break;
                }
            }
            out.close();
        }
    }

    /** Waits for the stand-in to close, at most {@code max} (null: without limit); true once it closed. */
    private boolean awaitClose(Duration max) {
        try {
            if (max == null) {
                closed.await();
                return true;
            }
            return closed.await(max.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    /** Every model call's body as JSON, in order: what a test asserts the CLI sent. */
    public final List<JsonNode> modelCallBodies() {
        List<JsonNode> out = new ArrayList<>();
        for (Request r : modelCalls) {
            out.add(r.json());
        }
        return out;
    }
}
