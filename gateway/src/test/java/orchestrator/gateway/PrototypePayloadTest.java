package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the prototype's webhook accepted, and its clients still send, is accepted the same way. */
class PrototypePayloadTest {
    @TempDir
    Path home;
    private RunningGateway gw;

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
    }

    @Test
    void a_json_body_sent_as_a_form_by_curl_d_is_read_as_json_and_a_real_form_still_gets_415() {
        gw = new RunningGateway(home);
        Answer a = gw.send("POST", "/webhook", ADMIN, "application/x-www-form-urlencoded", " {\"goal\": \"from curl -d\"}");
        assertThat(a.status()).as(a.text()).isEqualTo(202);
        Answer form = gw.send("POST", "/webhook", ADMIN, "application/x-www-form-urlencoded", "goal=from+a+form");
        assertThat(form.status()).as(form.text()).isEqualTo(415);
        assertThat(form.error()).isEqualTo("unsupported_media_type");
        Answer broken = gw.send("POST", "/webhook", ADMIN, "application/x-www-form-urlencoded; charset=utf-8", "{\"goal\": ");
        assertThat(broken.status()).as("JSON-looking but broken: the JSON error, not 415").isEqualTo(400);
        assertThat(broken.error()).isEqualTo("invalid_json");
    }

    @Test
    void an_empty_project_id_means_no_project() {
        gw = new RunningGateway(home);
        Answer a = gw.postJob(ADMIN, "{\"goal\": \"g\", \"project_id\": \"\"}");
        assertThat(a.status()).as(a.text()).isEqualTo(202);
        assertThat(a.json().path("project").isNull()).isTrue();
    }

    @Test
    void unknown_top_level_fields_are_accepted_and_named_in_the_answer_but_unknown_step_fields_are_refused() {
        gw = new RunningGateway(home);
        Answer a = gw.postJob(ADMIN, "{\"goal\": \"g\", \"workdir\": \".\", \"requested_by\": \"bot\", \"priorty\": 5}");
        assertThat(a.status()).as(a.text()).isEqualTo(202);
        assertThat(a.json().path("ignored_fields")).extracting(n -> n.asText()).containsExactly("workdir", "requested_by", "priorty");
        Answer plain = gw.postJob(ADMIN, "{\"goal\": \"g\"}");
        assertThat(plain.json().has("ignored_fields")).as("nothing ignored, nothing listed").isFalse();

        Answer step = gw.postJob(ADMIN, "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"a\", \"agent\": \"claude\", \"prompt\": \"p\", \"timeout\": 5}]}");
        assertThat(step.status()).isEqualTo(400);
        assertThat(step.json().path("field").asText()).isEqualTo("steps[0].timeout");
        Answer policy = gw.postJob(ADMIN, "{\"goal\": \"g\", \"policy\": {\"sandbx\": false}}");
        assertThat(policy.status()).isEqualTo(400);
        assertThat(policy.json().path("field").asText()).isEqualTo("policy.sandbx");
    }
}
