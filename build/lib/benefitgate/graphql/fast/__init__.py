"""The fast execution path: a plain-field executor, variable coercion, and live events
rendered once per document and sent straight to the socket. Registered by the schema."""
