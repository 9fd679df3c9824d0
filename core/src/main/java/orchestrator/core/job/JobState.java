package orchestrator.core.job;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The states of DESIGN §2. The wire and database form is the lower-case name. */
public enum JobState {
    AWAITING_APPROVAL, QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, NEEDS_HUMAN;

    @JsonValue
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static JobState fromWire(String s) {
        for (JobState st : values()) {
            if (st.wire().equals(s)) {
                return st;
            }
        }
        throw new IllegalArgumentException("unknown job state '" + s + "'");
    }

    /** A final state never changes again except through an explicit retry. */
    public boolean isFinal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
