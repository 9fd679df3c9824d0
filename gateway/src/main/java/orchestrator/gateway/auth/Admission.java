package orchestrator.gateway.auth;

import io.javalin.http.Context;
import java.time.Clock;
import java.util.Collections;
import java.util.OptionalLong;
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

    /** An authenticated request: the token and the client address it came from. */
    public record Caller(ApiToken token, String address) {
    }

    private final GatewayConfig config;
    private final BearerAuth auth;
    private final RateLimiter failuresPerAddress;
    private final RateLimiter webhook;
    private final RateLimiter api;

    public Admission(GatewayConfig config, Clock clock) {
        this.config = config;
        this.auth = new BearerAuth(config.tokens());
        this.failuresPerAddress = new RateLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests());
        this.webhook = new RateLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests());
        this.api = new RateLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests());
    }

    /**
     * @throws ApiError 401 or 403 for a missing or wrong token, 429 with {@code Retry-After} when over a limit
     */
    public Caller admit(Context ctx, Budget budget) {
        String client = clientAddress(ctx);
        ApiToken token = authenticate(ctx.header("Authorization"), client);
        limited((budget == Budget.WEBHOOK ? webhook : api).acquire(token.name() + "|" + client));
        return new Caller(token, client);
    }

    /**
     * Whether {@code authorization} carries a configured token, without counting a failure or a request: for
     * deciding, before any route runs, whose request body is worth reading ahead.
     */
    public boolean knows(String authorization) {
        try {
            auth.authenticate(authorization);
            return true;
        } catch (ApiError e) {
            return false;
        }
    }

    /** Counts a failed authentication that happened elsewhere (e.g. a wrong metrics token) against the address. */
    public void failed(Context ctx) {
        failuresPerAddress.acquire(clientAddress(ctx));
    }

    /** @throws ApiError 429 when the address has used up its failed authentications */
    public void checkFailures(Context ctx) {
        limited(failuresPerAddress.exhausted(clientAddress(ctx)));
    }

    public String clientAddress(Context ctx) {
        return config.trustedProxies().clientAddress(ctx.req().getRemoteAddr(),
                Collections.list(ctx.req().getHeaders("X-Forwarded-For")));
    }

    private ApiToken authenticate(String header, String client) {
        limited(failuresPerAddress.exhausted(client));
        try {
            return auth.authenticate(header);
        } catch (ApiError e) {
            failuresPerAddress.acquire(client);
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
