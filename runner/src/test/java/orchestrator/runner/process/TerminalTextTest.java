package orchestrator.runner.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import orchestrator.core.job.Limits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TerminalTextTest {
    @TempDir
    Path tmp;

    @Test
    void colours_cursor_moves_and_terminal_commands_are_removed_and_the_text_kept() {
        // opencode 1.18.33's error line, as it prints it
        assertThat(TerminalText.plain("\u001b[91m\u001b[1mError: \u001b[0m{\n")).isEqualTo("Error: {\n");
        // erase the line, move up: what would hide an earlier line from a reader in a terminal
        assertThat(TerminalText.plain("shown\u001b[2K\u001b[1A\rhidden?")).isEqualTo("shown\rhidden?");
        // OSC 52 (write the reader's clipboard) ended by BEL, a window title ended by ST, one never ended
        assertThat(TerminalText.plain("a\u001b]52;c;cm0gLXJmIH4=\u0007b")).isEqualTo("ab");
        assertThat(TerminalText.plain("a\u001b]0;title\u001b\\b")).isEqualTo("ab");
        assertThat(TerminalText.plain("a\u001b]8;;http://x/\n")).isEqualTo("a");
        // a DCS string, a charset switch, a keypad mode, a lone ESC, 8-bit CSI and other controls
        assertThat(TerminalText.plain("a\u001bPq#0\u001b\\b\u001b(Bc\u001b=d\u009be\u0000f\u0008g\u007fh\u001b"))
                .isEqualTo("abcdefgh");
        assertThat(TerminalText.plain("tab\tand\r\n")).isEqualTo("tab\tand\r\n");
    }

    @Test
    void text_without_control_characters_is_returned_as_it_is() {
        String s = "{\"type\":\"result\",\"text\":\"naïve – ok \\u001b\"}\n";
        assertThat(TerminalText.plain(s)).isSameAs(s);
    }

    @Test
    void a_step_log_holds_plain_text_and_a_secret_split_by_colour_codes_is_masked() throws Exception {
        String secret = "s3cr3t-value-for-the-test";
        String coloured = "\\033[31ms3cr3t-value\\033[0m-for-the-test";
        Path log = tmp.resolve("log.txt");
        ProcessSpec spec = new ProcessSpec(List.of("sh", "-c", "printf 'key=" + coloured + "\\n\\033]52;c;eA==\\007done\\n'"),
                tmp, Map.of("PATH", System.getenv("PATH")), null, log, false, Duration.ofSeconds(30), Duration.ZERO,
                new Limits(3600L, 4096L, 512L, 1024L, 1024L), "tok" + System.nanoTime(), new Redactor(List.of(secret)),
                100_000, List.of());
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        StepProcess.Result r = StepProcess.run(spec, () -> null, new StepProcess.Monitor() {
            @Override
            public void line(String raw) {
                seen.add(raw);
            }

            @Override
            public String abortReason() {
                return null;
            }

            @Override
            public boolean finalResultSeen() {
                return false;
            }
        });
        assertThat(r.exitCode()).isZero();
        String text = Files.readString(log);
        assertThat(text).doesNotContain("\u001b", "\u0007", "s3cr3t").contains("key=", "done\n");
        // the adapter's parser still sees what the CLI printed
        assertThat(seen).anyMatch(l -> l.contains("\u001b[31m"));
    }
}
