"""The GraphQL surface: schema assembly, the HTTP and WebSocket view, request middleware,
and the fast execution path."""
