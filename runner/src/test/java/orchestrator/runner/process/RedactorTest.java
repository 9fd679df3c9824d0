package orchestrator.runner.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class RedactorTest {
    @Test
    void known_values_and_key_shapes_are_masked_and_other_text_kept() {
        Redactor r = new Redactor(List.of("my-long-secret-value", "abc"));
        String out = r.redact("v=my-long-secret-value short=abc "
                + "a=sk-ant-api03-AAAAAAAAAAAAAAAA o=sk-proj-BBBBBBBBBBBBBBBB g=ghp_0123456789abcdefghijABCDEFGHIJ0123456789 "
                + "p=github_pat_11AAAAAAAAAAAAAAAAAAAAAA s=xoxb-1234567890-abc aws=AKIAIOSFODNN7EXAMPLE "
                + "goog=AIzaSyA-1234567890abcdefghijklmnopqrstu");
        assertThat(out).doesNotContain("my-long-secret-value", "sk-ant", "sk-proj", "ghp_", "github_pat_", "xoxb-",
                "AKIAIOSFODNN7EXAMPLE", "AIzaSy");
        // a value shorter than the minimum is not treated as a secret: masking it would shred the log
        assertThat(out).contains("short=abc");
    }

    @Test
    void longer_secret_containing_a_shorter_one_is_masked_whole() {
        Redactor r = new Redactor(List.of("secret1", "secret1-and-more"));
        assertThat(r.redact("x secret1-and-more y")).isEqualTo("x " + Redactor.MASK + " y");
    }

    @Test
    void the_prefix_check_never_skips_a_text_the_key_shapes_match() {
        List<String> keys = List.of("sk-ant-api03-AAAAAAAA", "sk-proj-BBBBBBBB", "sk-0123456789abcdefghij",
                "ghp_0123456789abcdefghij", "gho_0123456789abcdefghij", "ghu_0123456789abcdefghij",
                "ghs_0123456789abcdefghij", "ghr_0123456789abcdefghij", "github_pat_0123456789abcdefghij",
                "xoxb-12345678", "xoxa-12345678", "xoxp-12345678", "AKIAIOSFODNN7EXAMPLE",
                "AIzaSyA-1234567890abcdefghijklmnopqrstu");
        Redactor r = new Redactor(List.of());
        for (String key : keys) {
            for (String text : List.of(key, "high though: " + key + " ghost", "gh" + key)) {
                assertThat(Redactor.KEY_SHAPES.matcher(text).find()).as(text).isTrue();
                assertThat(Redactor.mayHoldKeyShape(text)).as(text).isTrue();
                assertThat(r.redact(text)).as(text).doesNotContain(key);
            }
        }
        // ordinary text is left alone without running the regex at all
        for (String text : List.of("", "g", "gh", "ghp", "ghp-x", "the high ghost thought", "skip-this sk_ task")) {
            assertThat(Redactor.mayHoldKeyShape(text)).as(text).isFalse();
            assertThat(Redactor.KEY_SHAPES.matcher(text).find()).as(text).isFalse();
            assertThat(r.redact(text)).isEqualTo(text);
        }
    }

    @Test
    void each_line_of_a_multi_line_secret_is_masked_and_so_is_its_json_escaped_form() {
        Redactor r = new Redactor(java.util.List.of("-----BEGIN KEY-----\nAAAABBBBCCCC\nDDDDEEEEFFFF\n-----END KEY-----"));
        assertThat(r.redact("line DDDDEEEEFFFF here")).isEqualTo("line [REDACTED] here");
        assertThat(r.redact("{\"k\":\"-----BEGIN KEY-----\\nAAAABBBBCCCC\\nDDDDEEEEFFFF\\n-----END KEY-----\"}"))
                .doesNotContain("AAAABBBBCCCC").doesNotContain("DDDDEEEEFFFF");
        assertThat(r.holdsSecretValue("xx AAAABBBBCCCC")).isTrue();
        assertThat(r.holdsSecretValue("sk-ant-api03-shaped-but-unknown-0000")).isFalse();
    }

    @Test
    void a_cut_never_falls_inside_a_secret_or_a_key_shape() {
        Redactor r = new Redactor(java.util.List.of("secret-value-123"));
        String text = "aaaa" + "secret-value-123" + "bbbb";
        for (int at = 0; at <= text.length(); at++) {
            int cut = r.safeCut(text, at);
            assertThat(cut).as("cut at %d", at).isLessThanOrEqualTo(at);
            assertThat(r.redact(text.substring(0, cut)) + r.redact(text.substring(cut))).as("cut at %d", at)
                    .isEqualTo("aaaa[REDACTED]bbbb");
        }
        String key = "x sk-ant-api03-abcdefghijklmnop y";
        assertThat(r.safeCut(key, 10)).isEqualTo(2);
    }
}
