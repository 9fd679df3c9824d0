package orchestrator.core;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Job ids: 32 lower-case hex characters, the shape the reference implementation used. The first 12
 * are the creation time in milliseconds, the other 20 random (80 bits): ids of new jobs sort after
 * older ones, so inserts into the id indexes append instead of dirtying a random page each, which
 * keeps every group commit small.
 */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    public static String newJobId() {
        return String.format("%012x", System.currentTimeMillis() & 0xFFFF_FFFF_FFFFL) + randomHex(10);
    }

    /** {@code bytes} random bytes as lower-case hex, for ids and generated tokens. */
    public static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
