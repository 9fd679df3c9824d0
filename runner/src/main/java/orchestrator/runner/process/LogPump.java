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
 * Each raw line goes to the step's {@link StepProcess.Monitor} (the adapter's parser) in memory
 * before its redacted copy is written: the parser must see the CLI's JSON as printed, the log
 * file must never hold a secret.
 */
final class LogPump implements Runnable {
    /**
     * A line longer than this is cut and handled in pieces, so a process printing no newline cannot
     * grow memory. Large enough for a CLI's JSON event holding a whole tool result.
     */
    static final int MAX_LINE_BYTES = 1024 * 1024;

    private final InputStream in;
    private final OutputStream out;
    private final Redactor redactor;
    private final long capBytes;
    private final StepProcess.Monitor monitor;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private volatile long lastOutputNanos = System.nanoTime();
    private long written;
    private boolean truncated;

    LogPump(InputStream in, OutputStream out, Redactor redactor, long capBytes, StepProcess.Monitor monitor) {
        this.monitor = monitor;
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
        String raw = line.toString(StandardCharsets.UTF_8);
        line.reset();
        try {
            monitor.line(raw);
        } catch (RuntimeException e) {
            // a parser bug must not stop the copy: the child would block on a full pipe
            monitor.parserFailed(e);
        }
        byte[] bytes = redactor.redact(raw).getBytes(StandardCharsets.UTF_8);
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
