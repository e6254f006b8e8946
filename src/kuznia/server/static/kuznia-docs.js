// The API's docs page: Swagger UI over this server's own schema (no inline script: the
// Content-Security-Policy forbids them).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
