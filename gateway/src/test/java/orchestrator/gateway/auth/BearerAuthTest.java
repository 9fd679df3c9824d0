package orchestrator.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import orchestrator.gateway.ApiError;
import org.junit.jupiter.api.Test;

class BearerAuthTest {
    private final BearerAuth auth = new BearerAuth(List.of(
            ApiToken.unscoped("default", "first-token-0123456789"),
            ApiToken.scoped("token-x", "second-token-0123456789", Set.of("alpha"))));

    @Test
    void known_token_is_found_whatever_its_position() {
        assertThat(auth.authenticate("Bearer first-token-0123456789").name()).isEqualTo("default");
        assertThat(auth.authenticate("bearer second-token-0123456789").name()).isEqualTo("token-x");
    }

    @Test
    void malformed_header_is_401_and_unknown_token_403() {
        for (String h : new String[] {null, "", "Bearer", "Bearer ", "Token first-token-0123456789", "Bearer a b"}) {
            assertThatThrownBy(() -> auth.authenticate(h)).isInstanceOfSatisfying(ApiError.class,
                    e -> assertThat(e.status()).isEqualTo(401));
        }
        assertThatThrownBy(() -> auth.authenticate("Bearer first-token-012345678")).isInstanceOfSatisfying(ApiError.class,
                e -> assertThat(e.status()).isEqualTo(403));
    }

    @Test
    void token_value_is_kept_only_as_a_digest() {
        ApiToken t = ApiToken.unscoped("default", "first-token-0123456789");
        assertThat(t.toString()).doesNotContain("first-token");
        assertThat(new String(t.digest(), java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("first-token");
    }
}
