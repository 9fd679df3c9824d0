package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.config.PostgresUrl;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A store on a server on another host, as it should be set up: TLS only, a certificate checked against
 * {@code sslrootcert}, a password. The operator writes {@code DATABASE_URL}; each way of getting it wrong is refused
 * with a message that says what to change and never shows the password.
 */
class PostgresTlsTest {
    private static final Duration TTL = Duration.ofSeconds(30);
    /** {@link TestPostgres#TLS_PASSWORD}, percent-encoded as it goes in a URL's user info. */
    private static final String ENCODED_PASSWORD = "p%40ss%20w%3Ard%2F%3F%25%23%26%3D";
    private static TestPostgres pg;
    private static String database;

    @BeforeAll
    static void startServer() {
        pg = TestPostgres.withTls();
        database = TestPostgres.databaseOf(pg.newDatabase());
    }

    @AfterAll
    static void stopServer() {
        pg.close();
    }

    /** {@code DATABASE_URL} as an operator writes it, for host {@code host} and the given query. */
    private static String url(String host, String query) {
        return "postgresql://" + TestPostgres.TLS_USER + ":" + ENCODED_PASSWORD + "@" + host + ":" + pg.port() + "/" + database + query;
    }

    private static PostgresJobStore open(String databaseUrl) {
        PostgresUrl u = PostgresUrl.parse(databaseUrl);
        return new PostgresJobStore(u.jdbcUrl(), u.user(), u.password(), Clock.systemUTC(), TTL, 3);
    }

    /** Opening a store on {@code databaseUrl} fails as unavailable, naming DATABASE_URL and never the password. */
    private static org.assertj.core.api.AbstractStringAssert<?> refused(String databaseUrl) {
        StoreUnavailableException e = org.assertj.core.api.Assertions.catchThrowableOfType(() -> open(databaseUrl).close(),
                StoreUnavailableException.class);
        assertThat(e).as("refused").isNotNull();
        return assertThat(e.getMessage()).contains("(DATABASE_URL): ").doesNotContain(TestPostgres.TLS_PASSWORD).doesNotContain(ENCODED_PASSWORD);
    }

    @Test
    void a_checked_certificate_and_an_escaped_password_open_a_store_that_runs_jobs_and_says_it_is_encrypted() {
        assertThat(ENCODED_PASSWORD).as("the fixture encodes the harness's password")
                .isEqualTo(java.net.URLEncoder.encode(TestPostgres.TLS_PASSWORD, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20"));
        try (PostgresJobStore store = open(url("localhost", "?sslmode=verify-full&sslrootcert=" + pg.caCertificate()))) {
            NewJob job = new NewJob(CoreConfig.from(new Env(Map.of())).agents().parser().parse(Json.parse("{\"goal\":\"over tls\"}")),
                    Source.of("api"), "test");
            String id = store.enqueue(job).jobId();
            assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.QUEUED);
            PostgresTransport t = store.transport();
            assertThat(t.encrypted()).isTrue();
            assertThat(t.protocol()).startsWith("TLSv1.");
            assertThat(t.sslmode()).isEqualTo("verify-full");
            assertThat(t.verified()).isTrue();
            assertThat(t.problem()).isNull();
            assertThat(t.describe()).isEqualTo("connections to localhost:" + pg.port() + " are encrypted (" + t.protocol()
                    + ") and the server's certificate is checked, with its host name (sslmode=verify-full)");
            // the files every host serves go through the same pool, so over the same TLS
            try (StoredFiles files = store.storedFiles()) {
                assertThat(files).isNotNull();
            }
        }
    }

    @Test
    void the_drivers_default_encrypts_without_checking_and_says_so_for_a_server_on_another_host() {
        try (PostgresJobStore store = open(url("localhost", ""))) {
            PostgresTransport t = store.transport();
            assertThat(t.encrypted()).as("sslmode=prefer takes the TLS the server offers").isTrue();
            assertThat(t.sslmode()).isEqualTo("prefer");
            assertThat(t.verified()).isFalse();
            // on loopback nothing crosses a network; the same connection to another host is a warning
            assertThat(t.problem()).isNull();
            PostgresTransport remote = new PostgresTransport(t.encrypted(), t.protocol(), t.sslmode(), "10.0.1.5:5432");
            assertThat(remote.problem()).startsWith("connections to 10.0.1.5:5432 are encrypted (" + t.protocol()
                    + ") but the server's certificate is not checked (sslmode=prefer)").contains("sslmode=verify-full&sslrootcert=");
        }
    }

    @Test
    void plain_text_to_a_server_that_takes_only_tls_is_refused_with_what_to_write_instead() {
        refused(url("localhost", "?sslmode=disable"))
                .startsWith("cannot connect to PostgreSQL at localhost:" + pg.port() + "/" + database + " (DATABASE_URL): ")
                .contains("no encryption", "connect with sslmode=verify-full&sslrootcert=/path in DATABASE_URL");
    }

    @Test
    void a_certificate_signed_by_another_ca_is_refused_naming_sslrootcert() {
        refused(url("localhost", "?sslmode=verify-full&sslrootcert=" + pg.otherCaCertificate()))
                .contains("the server's certificate is not signed by the certificate in DATABASE_URL's sslrootcert");
    }

    @Test
    void a_host_name_the_certificate_does_not_carry_is_refused_by_verify_full_and_taken_by_verify_ca() {
        // the certificate names localhost only; 127.0.0.1 is the same server under a name it does not carry
        refused(url("127.0.0.1", "?sslmode=verify-full&sslrootcert=" + pg.caCertificate()))
                .contains("the server's certificate does not name the host DATABASE_URL connects to");
        try (PostgresJobStore store = open(url("127.0.0.1", "?sslmode=verify-ca&sslrootcert=" + pg.caCertificate()))) {
            assertThat(store.transport().describe()).endsWith("the server's certificate is checked, not its host name (sslmode=verify-ca)");
        }
    }

    @Test
    void asking_for_tls_from_a_server_with_ssl_off_says_to_turn_it_on() {
        TestPostgres plain = TestPostgres.shared();
        String jdbc = plain.newDatabase();
        String db = TestPostgres.databaseOf(jdbc);
        refused("postgresql://" + TestPostgres.USER + "@127.0.0.1:" + plain.port() + "/" + db + "?sslmode=require")
                .endsWith("(DATABASE_URL): The server does not support SSL; sslmode asks for TLS and the server has ssl off:"
                        + " turn ssl on in its postgresql.conf");
    }

    @Test
    void verify_full_without_a_readable_sslrootcert_says_to_name_the_ca_file() {
        refused(url("localhost", "?sslmode=verify-full&sslrootcert=" + pg.caCertificate() + ".missing"))
                .contains("name a readable file with sslrootcert=/path in DATABASE_URL");
    }
}
