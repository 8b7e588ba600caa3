"""The HTTP responses the edges answer with before or instead of execution: a request
error with its code, the database lost before anything ran, a trusted document refused.
GraphQL over HTTP asks for `application/graphql-response+json` when the client accepts it.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from benefitgate.graphql import unavailable as lost
from benefitgate.graphql.persisted import DocumentRefused
from benefitgate.telemetry import metrics

__all__ = [
    "GRAPHQL_RESPONSE",
    "error_response",
    "http_error",
    "refusal",
    "unavailable_response",
    "wants_graphql_response",
]

GRAPHQL_RESPONSE = "application/graphql-response+json"


def error_response(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    *,
    retryable: bool = False,
) -> Response:
    metrics.error(code)
    extensions: dict[str, object] = {"code": code}
    if retryable:
        extensions["retryable"] = True
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


# The router's refusals' codes by status, as every other error of the service has one.
_ROUTER_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def http_error(request: Request, exc: Exception) -> Response:
    """The router's own refusals (a path it does not serve, a method a route does not
    take, a CORS preflight nobody may make) in the JSON error shape, with a code: they
    were plain text."""
    assert isinstance(exc, HTTPException)
    code = _ROUTER_CODES.get(exc.status_code, "BAD_REQUEST")
    message = exc.detail
    allowed = (exc.headers or {}).get("Allow")
    if exc.status_code == 405 and allowed:
        message = f"{request.method} is not allowed here; use {allowed}"
    return error_response(exc.status_code, message, code, dict(exc.headers or {}))


def wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")


def unavailable_response() -> Response:
    """503 for a request the database was lost for before anything executed: no `data`,
    the UNAVAILABLE error, and when to retry."""
    return error_response(
        503,
        lost.MESSAGE,
        lost.CODE,
        {"Retry-After": str(lost.RETRY_AFTER_SECONDS)},
        retryable=True,
    )


def refusal(request: Request, refused: DocumentRefused) -> Response:
    """A document refused before it ran: its status, and no `data` (a request error)."""
    media = GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json"
    body = orjson.dumps({"errors": [refused.as_error()]})
    return Response(body, status_code=refused.status, media_type=media)
