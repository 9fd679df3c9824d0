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
 * file must never hold a secret. The log gets the line as plain text ({@link TerminalText}): no
 * terminal escape sequences, no control characters but tab, newline and carriage return.
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
                    if (buf[i] == '\n') {
                        emit();
                    } else if (line.size() >= MAX_LINE_BYTES) {
                        emitPiece();
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
        write(raw);
    }

    /**
     * A line over {@link #MAX_LINE_BYTES}: its head goes out now, cut where no secret spans the cut (a
     * key printed across the cut would otherwise be masked in neither piece); the rest stays for the
     * next piece. The raw bytes are cut, so a multi-byte character is never split.
     */
    private void emitPiece() throws IOException {
        byte[] bytes = line.toByteArray();
        int end = bytes.length;
        while (end > 0 && (bytes[end - 1] & 0xC0) == 0x80) {
            end--; // continuation bytes of a character cut at the end
        }
        if (end > 0 && (bytes[end - 1] & 0x80) != 0) {
            end--; // its lead byte
        }
        String text = new String(bytes, 0, end, StandardCharsets.UTF_8);
        int keep = Math.max(redactor.longestSecret(), 256);
        int cut = text.length() > keep ? redactor.safeCut(text, text.length() - keep) : text.length();
        if (cut == 0) {
            cut = text.length(); // one match as long as the line: mask what we have rather than grow forever
        }
        String head = text.substring(0, cut);
        int headBytes = head.getBytes(StandardCharsets.UTF_8).length;
        line.reset();
        line.write(bytes, headBytes, bytes.length - headBytes);
        write(head);
    }

    private void write(String raw) throws IOException {
        try {
            monitor.line(raw);
        } catch (RuntimeException e) {
            // a parser bug must not stop the copy: the child would block on a full pipe
            monitor.parserFailed(e);
        }
        byte[] bytes = redactor.redact(TerminalText.plain(raw)).getBytes(StandardCharsets.UTF_8);
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
