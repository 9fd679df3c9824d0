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
    static void checkDeclared(long contentLength, long max) {
        if (contentLength > max) {
            throw tooLarge(max);
        }
    }

    /** @throws ApiError 413 as soon as more than {@code max} bytes have arrived */
    static byte[] read(InputStream in, long max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(max, 64 * 1024));
        byte[] buf = new byte[16 * 1024];
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
