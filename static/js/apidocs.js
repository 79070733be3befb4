/* The interactive API reference (/api/v1/docs): Swagger UI over the portal's own OpenAPI document.
   Everything comes from this server: no spec validator badge (it would call an outside service). */
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  if (!node || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    domNode: node,
    url: node.getAttribute("data-spec-url"),
    validatorUrl: null,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0
  });
})();
