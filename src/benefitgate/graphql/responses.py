"""The HTTP responses the edges answer with before or instead of execution: a request
error with its code, the database lost before anything ran, a trusted document refused.
GraphQL over HTTP asks for `application/graphql-response+json` when the client accepts it.
"""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from benefitgate.graphql import unavailable as lost
from benefitgate.graphql.persisted import DocumentRefused
from benefitgate.telemetry import metrics

__all__ = [
    "GRAPHQL_RESPONSE",
    "accept_qualities",
    "accepts",
    "error_response",
    "http_error",
    "prefers_graphql_response",
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
    return prefers_graphql_response(request.headers.get("accept", ""))


@lru_cache(maxsize=64)
def prefers_graphql_response(accept: str) -> bool:
    """Whether an `Accept` header asks for `application/graphql-response+json`: named, with
    a quality above 0 and no lower than `application/json`'s (which a wildcard gives it).
    A client that names neither gets `application/json`, as before the GraphQL over HTTP
    spec. Quality 0 means "not acceptable" (RFC 9110, 12.4.2): the media type was given to
    a client that had refused it by name."""
    if GRAPHQL_RESPONSE not in accept.lower():  # media ranges are case-insensitive
        return False
    qualities = accept_qualities(accept)
    wanted = qualities.get(GRAPHQL_RESPONSE, 0.0)
    json = next(
        (qualities[r] for r in ("application/json", "application/*", "*/*") if r in qualities),
        0.0,
    )
    return wanted > 0 and wanted >= json


def accepts(accept: str, media_type: str) -> bool:
    """Whether an `Accept` header names `media_type` (lower case) with a quality above 0,
    in any case (RFC 9110, 8.3.1)."""
    return media_type in accept.lower() and accept_qualities(accept).get(media_type, 0.0) > 0


def accept_qualities(accept: str) -> dict[str, float]:
    """Each media range of an `Accept` header (lower case, parameters other than `q`
    dropped) with its quality: 1 unless `q` says otherwise; a `q` that is not a number
    counts as 1 (the parameter is ignored, the range was named). A range named twice keeps
    its first quality."""
    qualities: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = part.split(";")
        media = media.strip().lower()
        if not media:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                with suppress(ValueError):
                    quality = float(value.strip())
        qualities.setdefault(media, quality)
    return qualities


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
