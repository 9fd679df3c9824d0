package orchestrator.gateway.auth;

import io.javalin.http.Context;
import java.time.Clock;
import java.util.Collections;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.GatewayConfig;

/**
 * Who is asking, and may they ask now: the client address (believing {@code X-Forwarded-For} only from
 * {@code TRUSTED_PROXIES}), the bearer token, and the rate limits, in the order DESIGN §4 fixes: 401/403,
 * then 429. Failed authentications are limited per address, before the token is even looked at, which
 * caps how fast anyone can guess tokens; accepted requests are limited per (token name, address).
 */
public final class Admission {
    /** Separate budgets, so that polling a job's status cannot use up the budget for submitting jobs. */
    public enum Budget { WEBHOOK, API }

    /**
     * An authenticated request: the token, the client address it came from, and the settings it was admitted
     * under, which the rest of the request uses too, so that a reload in the middle of it cannot mix two.
     */
    public record Caller(ApiToken token, String address, GatewayConfig config) {
    }

    /**
     * Everything a reload replaces, swapped as one: a request sees the old tokens, limits and proxies or the
     * new ones, never half of each. The limiters are new with the new limits, so their counts start over.
     */
    private record State(GatewayConfig config, BearerAuth auth, RateLimiter failuresPerAddress, RateLimiter webhook,
                         RateLimiter api) {
        static State of(GatewayConfig config, Clock clock) {
            return new State(config, new BearerAuth(config.tokens()),
                    new RateLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests()),
                    new RateLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests()),
                    new RateLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests()));
        }
    }

    private final Clock clock;
    private final AtomicReference<State> state;

    public Admission(GatewayConfig config, Clock clock) {
        this.clock = clock;
        this.state = new AtomicReference<>(State.of(config, clock));
    }

    /** The settings new requests are admitted under. */
    public GatewayConfig config() {
        return state.get().config();
    }

    /**
     * Swaps in new settings (SIGHUP): tokens and their scopes, signing secrets, projects, rate limits and
     * trusted proxies. Requests already admitted finish under the old ones.
     */
    public synchronized void reload(GatewayConfig next) {
        State old = state.get();
        boolean sameLimits = old.config().rateLimitWindow().equals(next.rateLimitWindow())
                && old.config().rateLimitMaxRequests() == next.rateLimitMaxRequests();
        // same limits: keep the counts, so that a reload is no way to reset a client's budget
        state.set(sameLimits ? new State(next, new BearerAuth(next.tokens()), old.failuresPerAddress(), old.webhook(), old.api())
                : State.of(next, clock));
    }

    /**
     * @throws ApiError 401 or 403 for a missing or wrong token, 429 with {@code Retry-After} when over a limit
     */
    public Caller admit(Context ctx, Budget budget) {
        State s = state.get();
        String client = clientAddress(s, ctx);
        ApiToken token = authenticate(s, ctx.header("Authorization"), client);
        limited((budget == Budget.WEBHOOK ? s.webhook() : s.api()).acquire(token.name() + "|" + client));
        return new Caller(token, client, s.config());
    }

    /**
     * A request that proves itself with a provider's signature (GitHub, Slack) instead of a bearer token: refused
     * while its address has used up its failed authentications, then limited per ({@code name}, address) on the
     * webhook budget. The caller checks the signature and calls {@link #failed} when it is wrong.
     *
     * @return a caller without a token
     */
    public Caller admitSigned(Context ctx, String name) {
        State s = state.get();
        String client = clientAddress(s, ctx);
        limited(s.failuresPerAddress().exhausted(client));
        limited(s.webhook().acquire(name + "|" + client));
        return new Caller(null, client, s.config());
    }

    /**
     * {@link #admit}, for a route that writes (submits a job, acts on a job or a schedule).
     *
     * @throws ApiError 403 {@code read_only_token} after the checks of {@link #admit}, for a read-only token
     */
    public Caller admitToAct(Context ctx, Budget budget) {
        Caller c = admit(ctx, budget);
        requireMayAct(c.token());
        return c;
    }

    /** @throws ApiError 403 {@code read_only_token} for a token marked {@code :ro} in WEBHOOK_TOKENS */
    public static void requireMayAct(ApiToken token) {
        if (token.readOnly()) {
            throw new ApiError(403, "read_only_token", "token " + token.name() + " is read-only (:ro in WEBHOOK_TOKENS): it may not change anything");
        }
    }

    /**
     * The configured token whose secret this is, without a header (the dashboard's sign-in form), or null. Every
     * token is compared, as {@link BearerAuth} does; a miss counts as a failed authentication of the address.
     *
     * @throws ApiError 429 when the address has used up its failed authentications
     */
    public ApiToken signIn(Context ctx, String secret) {
        State s = state.get();
        String client = clientAddress(s, ctx);
        try {
            return authenticate(s, secret == null ? null : "Bearer " + secret, client);
        } catch (ApiError e) {
            if (e.status() == 429) {
                throw e;
            }
            return null;
        }
    }

    /** The token of this digest among the current tokens (after a reload, a removed token is gone), or null. */
    public ApiToken current(byte[] digest) {
        ApiToken found = null;
        for (ApiToken t : state.get().config().tokens()) {
            if (t.matches(digest) && found == null) {
                found = t;
            }
        }
        return found;
    }

    /** The API rate limit of an admitted dashboard request, keyed like {@link #admit}'s. */
    public void limitApi(Context ctx, ApiToken token) {
        State s = state.get();
        limited(s.api().acquire(token.name() + "|" + clientAddress(s, ctx)));
    }

    /** Whether the request came over TLS: directly, or as said by {@code X-Forwarded-Proto} from a trusted proxy. */
    public boolean secure(Context ctx) {
        if (ctx.req().isSecure()) {
            return true;
        }
        String proto = ctx.header("X-Forwarded-Proto");
        return proto != null && proto.strip().equalsIgnoreCase("https")
                && state.get().config().trustedProxies().contains(ctx.req().getRemoteAddr());
    }

    /**
     * Whether {@code authorization} carries a configured token, without counting a failure or a request: for
     * deciding, before any route runs, whose request body is worth reading ahead.
     */
    public boolean knows(String authorization) {
        try {
            state.get().auth().authenticate(authorization);
            return true;
        } catch (ApiError e) {
            return false;
        }
    }

    /** Counts a failed authentication that happened elsewhere (e.g. a wrong metrics token) against the address. */
    public void failed(Context ctx) {
        State s = state.get();
        s.failuresPerAddress().acquire(clientAddress(s, ctx));
    }

    /** @throws ApiError 429 when the address has used up its failed authentications */
    public void checkFailures(Context ctx) {
        State s = state.get();
        limited(s.failuresPerAddress().exhausted(clientAddress(s, ctx)));
    }

    public String clientAddress(Context ctx) {
        return clientAddress(state.get(), ctx);
    }

    private static String clientAddress(State s, Context ctx) {
        return s.config().trustedProxies().clientAddress(ctx.req().getRemoteAddr(),
                Collections.list(ctx.req().getHeaders("X-Forwarded-For")));
    }

    private static ApiToken authenticate(State s, String header, String client) {
        limited(s.failuresPerAddress().exhausted(client));
        try {
            return s.auth().authenticate(header);
        } catch (ApiError e) {
            s.failuresPerAddress().acquire(client);
            throw e;
        }
    }

    private static void limited(OptionalLong retryAfter) {
        if (retryAfter.isPresent()) {
            throw new ApiError(429, "rate_limited", "too many requests; retry in " + retryAfter.getAsLong() + " s")
                    .withHeader("Retry-After", Long.toString(retryAfter.getAsLong()));
        }
    }
}
