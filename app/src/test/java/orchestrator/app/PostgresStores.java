package orchestrator.app;

import java.util.Map;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobPage;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobStore;

/** The tests' own view of a PostgreSQL store that the processes under test share. */
final class PostgresStores {
    private PostgresStores() {
    }

    /** Opens the store of {@code url} ({@code postgresql://…}) as the processes do. */
    static JobStore open(String url) {
        return new Context().openStore(CoreConfig.from(new Env(Map.of("DATABASE_URL", url))));
    }

    /** Jobs whose source type is {@code type}, counted by paging through them all. */
    static long countBySource(JobStore store, String type) {
        long n = 0;
        String before = null;
        while (true) {
            JobPage page = store.page(new JobQuery(null, true, null, 500, before, null, type, null, null));
            n += page.jobs().size();
            if (page.nextBeforeId() == null) {
                return n;
            }
            before = page.nextBeforeId();
        }
    }
}
