package orchestrator.runner.process;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Copies a process's output to its log, line by line through the {@link Redactor}, up to a size
 * cap. Past the cap it keeps reading (a child blocked on a full pipe would never exit) but writes
 * nothing more. Every read counts as output for the idle timeout, even without a newline.
 */
final class LogPump implements Runnable {
    /** A line longer than this is cut and redacted in pieces, so a process printing no newline cannot grow memory. */
    static final int MAX_LINE_BYTES = 16 * 1024;

    private final InputStream in;
    private final OutputStream out;
    private final Redactor redactor;
    private final long capBytes;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private volatile long lastOutputNanos = System.nanoTime();
    private long written;
    private boolean truncated;

    LogPump(InputStream in, OutputStream out, Redactor redactor, long capBytes) {
        this.in = in;
        this.out = out;
        this.redactor = redactor;
        this.capBytes = capBytes;
    }

    long lastOutputNanos() {
        return lastOutputNanos;
    }

    @Override
    public void run() {
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                lastOutputNanos = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    line.write(buf[i]);
                    if (buf[i] == '\n' || line.size() >= MAX_LINE_BYTES) {
                        emit();
                    }
                }
                out.flush();
            }
        } catch (IOException e) {
            // the stream was closed under us after the process tree was killed: nothing more to copy
        } finally {
            try {
                emit();
                out.flush();
            } catch (IOException ignored) {
                // the log file itself failed; the step's result still says how the process ended
            }
        }
    }

    private void emit() throws IOException {
        if (line.size() == 0) {
            return;
        }
        byte[] bytes = redactor.redact(line.toString(StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
        line.reset();
        if (truncated) {
            return;
        }
        if (written + bytes.length > capBytes) {
            truncated = true;
            out.write(("\n[output truncated: the log reached its cap of " + capBytes + " bytes]\n").getBytes(StandardCharsets.UTF_8));
            return;
        }
        out.write(bytes);
        written += bytes.length;
    }
}
