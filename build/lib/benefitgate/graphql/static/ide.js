// Starts GraphiQL against this service: queries and mutations over HTTP, subscriptions over
// graphql-transport-ws on the same path. The Headers pane's `Authorization` goes with every
// request, and with `connection_init` for subscriptions.
(function () {
  "use strict";
  var endpoint = new URL(document.currentScript.dataset.endpoint, window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
  var defaultQuery = [
    "# Benefitgate's GraphiQL, served by the service.",
    "# Put a credential in the Headers pane below:",
    '#   {"Authorization": "Bearer <token or API key>"}',
    "# (`make run` prints both; dev mode needs none.)",
    "",
    "query Ladder {",
    "  tiers {",
    "    key",
    "    name",
    "    rank",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
