import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";

/** The interactive reference at /docs: Swagger UI from public/vendor (copied from swagger-ui-dist at install), so it works offline. */
const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Edge chat API reference</title>
  <link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="reference"></div>
  <script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#reference", persistAuthorization: true, tryItOutEnabled: true });
  </script>
</body>
</html>`;

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Edge chat API",
      version: "1.0.0",
      description: "Conversations and ordered real-time messaging on Cloudflare Workers and Durable Objects.",
    },
    servers: [{ url: "/" }],
  });
  app.get("/docs", (c) => c.html(DOCS_HTML));
}
