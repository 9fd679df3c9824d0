package orchestrator.runner.process;

import java.util.regex.Pattern;

/**
 * An agent's output as plain text for its log: terminal escape sequences and control characters out.
 * CLIs colour their output whatever {@code NO_COLOR} says (opencode 1.18.33 prints
 * {@code ESC[91mESC[1mError: ESC[0m} with or without a {@code TERM}), and a hostile agent can print
 * sequences that act on whoever reads the log in a terminal ({@code tail -f}, {@code orchestrator logs}):
 * OSC 52 writes the reader's clipboard, others retitle the window or hide lines. A secret printed with
 * colour codes inside it is one run of text again afterwards, so the {@link Redactor} masks it.
 * Tab, newline and carriage return stay.
 */
public final class TerminalText {
    /**
     * CSI (colours, cursor moves), OSC up to BEL or ST (or the end of the line), DCS/SOS/PM/APC strings, the
     * other escape sequences, a lone ESC, C1 controls (U+0080–U+009F, 8-bit CSI among them), and the C0 controls
     * and DEL other than tab, newline and carriage return.
     */
    private static final Pattern CONTROL = Pattern.compile(
            "\u001B\\[[0-?]*[ -/]*[@-~]"
            + "|\u001B\\][^\u0007\u001B]*(?:\u0007|\u001B\\\\)?"
            + "|\u001B[PX^_][^\u001B]*(?:\u001B\\\\)?"
            + "|\u001B[ -/]*[0-~]"
            + "|[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]");

    private TerminalText() {
    }

    /** {@code s} without terminal control; the same string when it has none (the usual case, checked without a regex). */
    public static String plain(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= 0x7F && c <= 0x9F) {
                return CONTROL.matcher(s).replaceAll("");
            }
        }
        return s;
    }
}
