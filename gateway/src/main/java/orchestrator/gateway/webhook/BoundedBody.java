package orchestrator.gateway.webhook;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import orchestrator.gateway.ApiError;

/**
 * Reads a request body up to a limit. The declared {@code Content-Length} is refused before a byte is
 * read; a chunked body (no length) is read until it passes the limit and then refused, so neither form
 * makes us buffer more than the limit.
 */
final class BoundedBody {
    private BoundedBody() {
    }

    /** @throws ApiError 413 when the declared length is over {@code max} */
    private static void checkDeclared(long contentLength, long max) {
        if (contentLength > max) {
            throw tooLarge(max);
        }
    }

    /**
     * Reads the whole body, refusing more than {@code max} bytes. With a declared length exactly that
     * many bytes are read into one array (jobs are a few hundred bytes; the fixed 80 KB of buffers per
     * request this replaced was most of a busy gateway's garbage); a chunked body grows from 1 KB.
     *
     * @param declared the Content-Length, or -1 when the body is chunked
     * @throws ApiError 413 when the declared length is over {@code max}, before a byte is read, or as
     *                  soon as more than {@code max} bytes of a chunked body have arrived
     */
    static byte[] read(InputStream in, long declared, long max) throws IOException {
        checkDeclared(declared, max);
        if (declared >= 0) {
            // the server frames the body by its Content-Length: exactly that many bytes, or the client hung up early
            byte[] body = in.readNBytes((int) declared);
            if (body.length < declared) {
                throw new java.io.EOFException("the body ended after " + body.length + " of " + declared + " bytes");
            }
            return body;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
        byte[] buf = new byte[4096];
        long total = 0;
        int n;
        while ((n = in.read(buf)) != -1) {
            total += n;
            if (total > max) {
                throw tooLarge(max);
            }
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private static ApiError tooLarge(long max) {
        // Connection: close because the rest of the body is left unread; the connection cannot be reused
        return new ApiError(413, "payload_too_large", "the body is larger than " + max + " bytes")
                .withHeader("Connection", "close");
    }
}
