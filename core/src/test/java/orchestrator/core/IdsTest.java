package orchestrator.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IdsTest {
    @Test
    void ids_made_one_after_the_other_sort_in_that_order_even_within_a_millisecond() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            ids.add(Ids.newJobId());
        }
        assertThat(ids).doesNotHaveDuplicates().isSorted().allMatch(id -> id.matches("[0-9a-f]{32}"));
    }

    @Test
    void an_id_after_the_clock_stepped_back_still_sorts_after_the_last() {
        // near now: the generator keeps the highest millisecond it saw, for every later id of this JVM
        long now = System.currentTimeMillis();
        String a = Ids.next(now);
        String b = Ids.next(now - 1_000);
        assertThat(b).isGreaterThan(a).startsWith(a.substring(0, 12));
    }
}
