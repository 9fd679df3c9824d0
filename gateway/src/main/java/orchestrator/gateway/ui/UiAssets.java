package orchestrator.gateway.ui;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Properties;
import orchestrator.gateway.ApiError;

/**
 * The dashboard's static files, each read once from the classpath: its own script and stylesheet, and htmx and
 * uPlot from their WebJars (the versions pinned in the parent pom), so the pages load nothing from elsewhere and
 * work on a host without internet. Only these names are served: a request can never name another resource.
 */
final class UiAssets {
    private record Asset(byte[] bytes, String contentType) {
    }

    private final Map<String, Asset> files;

    UiAssets() {
        String htmx = webjar("org.webjars.npm", "htmx.org") + "dist/";
        String uplot = webjar("org.webjars.npm", "uplot") + "dist/";
        String own = "/orchestrator/gateway/ui/";
        files = Map.of(
                "htmx.min.js", load(htmx + "htmx.min.js", "text/javascript; charset=utf-8"),
                "uPlot.iife.min.js", load(uplot + "uPlot.iife.min.js", "text/javascript; charset=utf-8"),
                "uPlot.min.css", load(uplot + "uPlot.min.css", "text/css; charset=utf-8"),
                "ui.js", load(own + "ui.js", "text/javascript; charset=utf-8"),
                "ui.css", load(own + "ui.css", "text/css; charset=utf-8"));
    }

    void serve(Context ctx) {
        Asset a = files.get(ctx.pathParam("file"));
        if (a == null) {
            throw new ApiError(404, "not_found", "no such file");
        }
        ctx.status(200).contentType(a.contentType()).header("Cache-Control", "public, max-age=3600")
                .header("X-Content-Type-Options", "nosniff").result(a.bytes());
    }

    /** The resource folder of a WebJar on the classpath, read from its pom.properties (the version is there). */
    private static String webjar(String group, String artifact) {
        String pom = "/META-INF/maven/" + group + "/" + artifact + "/pom.properties";
        Properties p = new Properties();
        try (InputStream in = UiAssets.class.getResourceAsStream(pom)) {
            if (in == null) {
                throw new IllegalStateException("the " + artifact + " WebJar is not on the classpath (" + pom + ")");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "/META-INF/resources/webjars/" + artifact + "/" + p.getProperty("version") + "/";
    }

    private static Asset load(String resource, String contentType) {
        try (InputStream in = UiAssets.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("dashboard file missing from the classpath: " + resource);
            }
            return new Asset(in.readAllBytes(), contentType);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
