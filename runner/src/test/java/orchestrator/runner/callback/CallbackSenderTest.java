package orchestrator.runner.callback;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class CallbackSenderTest {
    @Test
    void private_loopback_link_local_and_unique_local_addresses_are_private() throws UnknownHostException {
        for (String a : new String[] {"127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:10.0.0.1", "::"}) {
            assertThat(CallbackSender.isPrivate(InetAddress.getByName(a))).as(a).isTrue();
        }
        for (String a : new String[] {"8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111", "100.128.0.1"}) {
            assertThat(CallbackSender.isPrivate(InetAddress.getByName(a))).as(a).isFalse();
        }
    }

    @Test
    void backoff_doubles_from_the_base_and_is_capped_at_five_minutes() {
        CallbackSender s = new CallbackSender(null, null, null, "r", Duration.ofSeconds(1));
        assertThat(s.backoff(1)).isEqualTo(Duration.ofSeconds(1));
        assertThat(s.backoff(2)).isEqualTo(Duration.ofSeconds(2));
        assertThat(s.backoff(4)).isEqualTo(Duration.ofSeconds(8));
        assertThat(s.backoff(12)).isEqualTo(Duration.ofMinutes(5));
        assertThat(s.backoff(60)).isEqualTo(Duration.ofMinutes(5));
    }
}
