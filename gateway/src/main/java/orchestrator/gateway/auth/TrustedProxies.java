package orchestrator.gateway.auth;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import orchestrator.core.config.ConfigException;

/**
 * {@code TRUSTED_PROXIES}: the peers whose {@code X-Forwarded-For} we believe (by default loopback, where
 * nginx runs). From anyone else the header is ignored, or any client could pick its own address and step
 * around per-address rate limits.
 */
public final class TrustedProxies {
    public static final String DEFAULT = "127.0.0.0/8,::1";
    private static final Pattern IPV4 = Pattern.compile("^\\d{1,3}(\\.\\d{1,3}){3}$");
    private static final Pattern IPV6 = Pattern.compile("^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$");

    private record Cidr(byte[] network, int prefix, String text) {
        boolean contains(byte[] addr) {
            if (addr.length != network.length) {
                return false;
            }
            int full = prefix / 8;
            for (int i = 0; i < full; i++) {
                if (addr[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefix % 8;
            if (rest == 0) {
                return true;
            }
            int mask = 0xff << (8 - rest) & 0xff;
            return (addr[full] & mask) == (network[full] & mask);
        }
    }

    private final List<Cidr> ranges;

    private TrustedProxies(List<Cidr> ranges) {
        this.ranges = List.copyOf(ranges);
    }

    /** Parses IP addresses and CIDR ranges; {@code loopback} stands for {@link #DEFAULT}. */
    public static TrustedProxies parse(String variable, List<String> items) {
        List<Cidr> out = new ArrayList<>();
        for (String item : items) {
            if (item.equalsIgnoreCase("loopback")) {
                out.addAll(parse(variable, List.of(DEFAULT.split(","))).ranges);
                continue;
            }
            int slash = item.indexOf('/');
            String addr = slash < 0 ? item : item.substring(0, slash);
            byte[] bytes = literal(addr);
            if (bytes == null) {
                throw new ConfigException(variable, "'" + item + "' is not an IP address or CIDR range");
            }
            int prefix = bytes.length * 8;
            if (slash >= 0) {
                try {
                    prefix = Integer.parseInt(item.substring(slash + 1));
                } catch (NumberFormatException e) {
                    prefix = -1;
                }
                if (prefix < 0 || prefix > bytes.length * 8) {
                    throw new ConfigException(variable, "'" + item + "' has a bad prefix length");
                }
            }
            out.add(new Cidr(bytes, prefix, item));
        }
        return new TrustedProxies(out);
    }

    public boolean contains(String address) {
        byte[] b = literal(address);
        return b != null && ranges.stream().anyMatch(r -> r.contains(b));
    }

    /**
     * The client's address: the socket peer, unless the peer is a trusted proxy; then the right-most address
     * of {@code X-Forwarded-For} that is not itself a trusted proxy (the left part is whatever the client
     * wrote and proves nothing).
     *
     * @param forwardedFor every {@code X-Forwarded-For} header value, in order
     */
    public String clientAddress(String peer, List<String> forwardedFor) {
        String client = strip(peer);
        if (!contains(client) || forwardedFor == null || forwardedFor.isEmpty()) {
            return client;
        }
        List<String> hops = new ArrayList<>();
        for (String h : forwardedFor) {
            for (String part : h.split(",")) {
                if (!part.isBlank()) {
                    hops.add(strip(part.strip()));
                }
            }
        }
        for (int i = hops.size() - 1; i >= 0; i--) {
            String hop = hops.get(i);
            if (literal(hop) == null) {
                // garbage in the chain: keep the last address we could vouch for
                return client;
            }
            client = hop;
            if (!contains(hop)) {
                return hop;
            }
        }
        return client;
    }

    public List<String> ranges() {
        return ranges.stream().map(Cidr::text).toList();
    }

    @Override
    public String toString() {
        return String.join(",", ranges());
    }

    private static String strip(String a) {
        if (a == null) {
            return "";
        }
        return a.startsWith("[") && a.endsWith("]") ? a.substring(1, a.length() - 1) : a;
    }

    // InetAddress falls back to a DNS lookup for a dotted quad it cannot parse (999.1.1.1): refuse it first
    private static boolean octetsFit(String v4) {
        for (String o : v4.split("\\.")) {
            if (Integer.parseInt(o) > 255) {
                return false;
            }
        }
        return true;
    }

    /** The bytes of an IP literal, or null; never a DNS lookup. */
    private static byte[] literal(String s) {
        if (s == null || !(IPV4.matcher(s).matches() && octetsFit(s) || IPV6.matcher(s).matches())) {
            return null;
        }
        try {
            return InetAddress.getByName(s).getAddress();
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
