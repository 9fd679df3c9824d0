package orchestrator.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class TrustedProxiesTest {
    private final TrustedProxies loopback = TrustedProxies.parse("TRUSTED_PROXIES", List.of("loopback"));

    @Test
    void forwarded_for_from_an_untrusted_peer_is_ignored() {
        assertThat(loopback.clientAddress("198.51.100.9", List.of("203.0.113.7"))).isEqualTo("198.51.100.9");
    }

    @Test
    void right_most_untrusted_hop_is_the_client() {
        assertThat(loopback.clientAddress("127.0.0.1", List.of("6.6.6.6, 203.0.113.7"))).isEqualTo("203.0.113.7");
        assertThat(loopback.clientAddress("127.0.0.1", List.of("6.6.6.6", "203.0.113.7, 127.0.0.1"))).isEqualTo("203.0.113.7");
    }

    @Test
    void garbage_in_the_chain_falls_back_to_the_last_trusted_hop() {
        assertThat(loopback.clientAddress("127.0.0.1", List.of("evil.example"))).isEqualTo("127.0.0.1");
    }

    @Test
    void cidr_ranges_and_ipv6_match() {
        TrustedProxies p = TrustedProxies.parse("TRUSTED_PROXIES", List.of("10.1.0.0/16", "fd00::/8", "192.0.2.1"));
        assertThat(p.contains("10.1.200.3")).isTrue();
        assertThat(p.contains("10.2.0.1")).isFalse();
        assertThat(p.contains("fd12::1")).isTrue();
        assertThat(p.contains("192.0.2.1")).isTrue();
        assertThat(p.contains("192.0.2.2")).isFalse();
        assertThat(p.contains("not-an-ip")).isFalse();
        assertThat(loopback.contains("::1")).isTrue();
        assertThat(loopback.contains("[::1]")).isFalse();
        assertThat(loopback.clientAddress("[::1]", List.of())).isEqualTo("::1");
    }
}
