package orchestrator.app;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Keeps a long-running command alive until SIGTERM or SIGINT, then runs its stop actions in order
 * on the main thread and returns, so the process exits 0 after a clean drain. The JVM's own
 * shutdown path would run the same actions in a hook but then exit 143, which systemd and
 * supervisors report as a failure; {@code sun.misc.Signal} is the JDK's only way to take the signal.
 */
final class Lifecycle {
    private static final Logger log = LoggerFactory.getLogger(Lifecycle.class);

    interface StopAction {
        void stop() throws Exception;
    }

    private Lifecycle() {
    }

    static void awaitShutdown(List<StopAction> actions) {
        awaitShutdown(actions, () -> { });
    }

    /**
     * @param onHangup what SIGHUP does besides reopening the log file (logrotate's signal): e.g. reload
     *                 the configuration. Runs on the signal thread and must not throw.
     */
    static void awaitShutdown(List<StopAction> actions, Runnable onHangup) {
        awaitShutdown(actions, onHangup, () -> { });
    }

    /**
     * @param ready runs once the signal handlers are in place: where a command says it is ready, since a
     *              SIGTERM sent on seeing that line before the handlers existed killed the JVM with 143
     */
    static void awaitShutdown(List<StopAction> actions, Runnable onHangup, Runnable ready) {
        sun.misc.SignalHandler before = Signal.handle(new Signal("HUP"), sig -> {
            try {
                Logging.reopen();
                onHangup.run();
            } catch (Throwable t) {
                log.error("SIGHUP handling failed; the process keeps running", t);
            }
        });
        if (before == sun.misc.SignalHandler.SIG_IGN) {
            // the JVM installs no handler for a SIGHUP its parent ignored (nohup does): say so, not fail silently
            log.warn("SIGHUP is ignored in this process (started under nohup?): a reload (systemctl reload, kill -HUP) "
                    + "and logrotate's reopen do nothing, so a changed setting needs a restart; start it without nohup "
                    + "(a service manager, or setsid) to reload in place");
        }
        CountDownLatch stop = new CountDownLatch(1);
        for (String name : List.of("TERM", "INT")) {
            Signal.handle(new Signal(name), sig -> {
                log.info("SIG{} received: shutting down", sig.getName());
                stop.countDown();
            });
        }
        ready.run();
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (StopAction a : actions) {
            try {
                a.stop();
            } catch (Throwable t) {
                log.error("error while shutting down; continuing with the rest", t);
            }
        }
        log.info("stopped");
    }

    static String runnerId(String instance) {
        return Context.hostname() + "/" + instance + "/" + ProcessHandle.current().pid();
    }
}
