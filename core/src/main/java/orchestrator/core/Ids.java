package orchestrator.core;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Job ids: 32 lower-case hex characters, the shape the reference implementation used. The first 12
 * are the creation time in milliseconds, the other 20 random (80 bits): ids of new jobs sort after
 * older ones, so inserts into the id indexes append instead of dirtying a random page each, which
 * keeps every group commit small, and the job listing pages newest first on the id alone.
 *
 * <p>Within one process the ids are strictly increasing: a second id in the same millisecond (or
 * after the wall clock stepped back) is the previous one plus one, so two jobs submitted one after
 * the other always list in that order. Across processes the order is the creation millisecond.
 */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final long RANDOM_HIGH_MASK = 0xFFFFL; // the random part's top 16 of 80 bits
    private static long lastMillis = -1;
    private static long lastHigh;
    private static long lastLow;

    private Ids() {
    }

    public static String newJobId() {
        return next(System.currentTimeMillis() & 0xFFFF_FFFF_FFFFL);
    }

    static synchronized String next(long millis) {
        if (millis > lastMillis) {
            lastMillis = millis;
            lastHigh = RANDOM.nextInt() & RANDOM_HIGH_MASK;
            lastLow = RANDOM.nextLong();
        } else if (++lastLow == 0 && (lastHigh = (lastHigh + 1) & RANDOM_HIGH_MASK) == 0) {
            // all 80 bits carried over: borrow the next millisecond rather than repeat an id
            lastMillis++;
        }
        return String.format("%012x%04x%016x", lastMillis & 0xFFFF_FFFF_FFFFL, lastHigh, lastLow);
    }

    /** {@code bytes} random bytes as lower-case hex, for ids and generated tokens. */
    public static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
