package orchestrator.core;

import java.security.SecureRandom;
import java.util.HexFormat;

/** Job ids: 32 lower-case hex characters, the shape the reference implementation used. */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    public static String newJobId() {
        return randomHex(16);
    }

    /** {@code bytes} random bytes as lower-case hex, for ids and generated tokens. */
    public static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
