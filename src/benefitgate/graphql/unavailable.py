"""A request the database could not serve: `UNAVAILABLE`, typed and retryable.

When Postgres restarts, a backend is terminated or no pooled connection frees up in time,
the request fails for a reason that is neither the caller's nor a bug, and a retry may
succeed. It was masked as "Unexpected error." like a bug. Wherever an unexpected error is
masked (execution over HTTP or WebSocket, authentication before it), an error that
`db.unavailable` recognises becomes this one instead: code `UNAVAILABLE`,
`retryable: true`. Its effect is unknown: a write may have committed before the connection
was lost, so a retry must carry the same idempotency key or event ids.
"""

from __future__ import annotations

from graphql import GraphQLError

__all__ = ["CODE", "EXTENSIONS", "MESSAGE", "RETRY_AFTER_SECONDS", "unavailable_error"]

CODE = "UNAVAILABLE"
MESSAGE = (
    "The database is unavailable; retry. A write may have been applied: retry it with the "
    "same idempotency key or event ids."
)
EXTENSIONS = {"code": CODE, "retryable": True}
# What a 503 asks a client to wait before retrying (Postgres restarts in about a second).
RETRY_AFTER_SECONDS = 1


def unavailable_error(error: GraphQLError) -> GraphQLError:
    """`error`, at its location and path, as the typed UNAVAILABLE error."""
    return GraphQLError(
        MESSAGE, error.nodes, error.source, error.positions, error.path, extensions=EXTENSIONS
    )
