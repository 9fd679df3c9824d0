package orchestrator.app;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a long-running command alive until SIGTERM/SIGINT, then runs its stop actions in order.
 * The stop actions run inside the JVM's shutdown hook because the JVM halts as soon as the hooks
 * return: a runner's drain must be finished by then.
 */
final class Lifecycle {
    private static final Logger log = LoggerFactory.getLogger(Lifecycle.class);

    interface StopAction {
        void stop() throws Exception;
    }

    private Lifecycle() {
    }

    static void awaitShutdown(List<StopAction> actions) {
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("shutting down");
            for (StopAction a : actions) {
                try {
                    a.stop();
                } catch (Throwable t) {
                    log.error("error while shutting down; continuing with the rest", t);
                }
            }
            log.info("stopped");
            done.countDown();
        }, "shutdown"));
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static String runnerId(String instance) {
        return Context.hostname() + "/" + instance + "/" + ProcessHandle.current().pid();
    }
}
