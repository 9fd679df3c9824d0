package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How doctor reads DATABASE_URL's sslmode and hosts, without a server (PostgresTlsTest has the server). */
class PostgresTransportTest {
    @Test
    void sslmode_is_the_urls_or_the_drivers_rule_for_ssl_true_or_its_default_prefer() {
        assertThat(PostgresTransport.sslmode("jdbc:postgresql://h:5432/db")).isEqualTo("prefer");
        assertThat(PostgresTransport.sslmode("jdbc:postgresql://h:5432/db?sslmode=Verify-Full&x=1")).isEqualTo("verify-full");
        assertThat(PostgresTransport.sslmode("jdbc:postgresql://h:5432/db?ssl=true")).isEqualTo("verify-full");
        assertThat(PostgresTransport.sslmode("jdbc:postgresql://h:5432/db?ssl=true&sslmode=require")).isEqualTo("require");
        assertThat(PostgresTransport.sslmode("jdbc:postgresql://h:5432/db?ssl=false")).isEqualTo("prefer");
    }

    @Test
    void only_connections_that_all_stay_on_this_host_are_loopback() {
        assertThat(new PostgresTransport(false, null, "prefer", "127.0.0.1:5432").loopback()).isTrue();
        assertThat(new PostgresTransport(false, null, "prefer", "localhost:5432,[::1]:5433").loopback()).isTrue();
        assertThat(new PostgresTransport(false, null, "prefer", "localhost:5432,db2:5432").loopback()).isFalse();
        assertThat(new PostgresTransport(false, null, "prefer", "[2001:db8::1]:5432").loopback()).isFalse();
    }

    @Test
    void plain_text_to_another_host_is_a_warning_that_says_what_to_turn_on_and_loopback_is_fine() {
        assertThat(new PostgresTransport(false, null, "disable", "10.0.1.5:5432").problem())
                .isEqualTo("connections to 10.0.1.5:5432 are not encrypted (sslmode=disable): every prompt, log and artifact crosses"
                        + " the network in plain text; turn ssl on in the server's postgresql.conf and add"
                        + " sslmode=verify-full&sslrootcert=/etc/orchestrator/postgres-ca.crt to DATABASE_URL (docs/DEPLOYMENT.md, TLS to PostgreSQL)");
        PostgresTransport local = new PostgresTransport(false, null, "prefer", "127.0.0.1:5432");
        assertThat(local.problem()).isNull();
        assertThat(local.describe()).isEqualTo("connections stay on this host (127.0.0.1:5432), not encrypted (sslmode=prefer)");
        assertThat(new PostgresTransport(true, "TLSv1.3", "verify-full", "10.0.1.5:5432").problem()).isNull();
        assertThat(new PostgresTransport(false, null, "verify-full", "10.0.1.5:5432").problem())
                .as("a mode the connection does not show is not taken on trust").startsWith("connections to 10.0.1.5:5432 are not encrypted");
    }

    @Test
    void a_tls_refusal_gets_a_hint_and_any_other_refusal_none() {
        assertThat(PostgresTransport.hint("The server does not support SSL.")).contains("turn ssl on in its postgresql.conf");
        assertThat(PostgresTransport.hint("FATAL: password authentication failed for user \"app\"")).isEmpty();
        assertThat(PostgresTransport.hint(null)).isEmpty();
        assertThat(PostgresTransport.explain("The server does not support SSL."))
                .isEqualTo("The server does not support SSL; sslmode asks for TLS and the server has ssl off: turn ssl on in its postgresql.conf");
        assertThat(PostgresTransport.explain("Connection refused.")).isEqualTo("Connection refused.");
        // the server's own words (PostgreSQL 15) when max_connections is used up
        assertThat(PostgresTransport.hint("FATAL: sorry, too many clients already")).contains("max_connections");
        assertThat(PostgresTransport.hint("FATAL: remaining connection slots are reserved for non-replication superuser connections"))
                .contains("max_connections");
        assertThat(PostgresTransport.hint("FATAL: no pg_hba.conf entry for host \"10.0.1.9\", user \"app\", database \"orch\", SSL encryption"))
                .contains("pg_hba.conf lets this host connect");
    }
}
