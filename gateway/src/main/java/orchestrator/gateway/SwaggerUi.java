package orchestrator.gateway;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * {@code GET /docs}: Swagger UI over {@code /openapi.json}, its files served from the {@code org.webjars:swagger-ui}
 * jar on the classpath, so the page works on a host without internet access and loads nothing from a CDN.
 */
final class SwaggerUi {
    private static final String POM = "/META-INF/maven/org.webjars/swagger-ui/pom.properties";
    /** One file of the WebJar's folder: no slash, no leading dot, so a name can never leave it. */
    private static final Pattern FILE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,100}");

    private final String root;

    SwaggerUi() {
        Properties p = new Properties();
        try (InputStream in = SwaggerUi.class.getResourceAsStream(POM)) {
            if (in == null) {
                throw new IllegalStateException("the swagger-ui WebJar is not on the classpath (" + POM + ")");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        root = "/META-INF/resources/webjars/swagger-ui/" + p.getProperty("version") + "/";
    }

    /** The page: the WebJar's bundle, pointed at our document instead of its demo one. */
    void page(Context ctx) {
        ctx.status(200).contentType("text/html; charset=utf-8").result("""
                <!doctype html>
                <html lang="en">
                <head>
                  <meta charset="utf-8">
                  <title>orchestrator API</title>
                  <link rel="stylesheet" href="/docs/swagger-ui.css">
                </head>
                <body>
                  <div id="swagger-ui"></div>
                  <script src="/docs/swagger-ui-bundle.js"></script>
                  <script src="/docs/swagger-ui-standalone-preset.js"></script>
                  <script>
                    window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
                  </script>
                </body>
                </html>
                """);
    }

    /** {@code GET /docs/{file}}: a file of the WebJar, 404 for anything else. */
    void asset(Context ctx) throws IOException {
        String name = ctx.pathParam("file");
        InputStream in = FILE.matcher(name).matches() ? SwaggerUi.class.getResourceAsStream(root + name) : null;
        if (in == null) {
            throw new ApiError(404, "not_found", "no such file");
        }
        try (in) {
            ctx.status(200).contentType(contentType(name)).header("Cache-Control", "public, max-age=3600")
                    .header("X-Content-Type-Options", "nosniff").result(in.readAllBytes());
        }
    }

    private static String contentType(String name) {
        if (name.endsWith(".js")) {
            return "text/javascript; charset=utf-8";
        }
        if (name.endsWith(".css")) {
            return "text/css; charset=utf-8";
        }
        if (name.endsWith(".png")) {
            return "image/png";
        }
        if (name.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        return "text/plain; charset=utf-8";
    }
}
