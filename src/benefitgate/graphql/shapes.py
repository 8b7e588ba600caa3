"""The shapes of what clients send: the parameters of a GraphQL request (an HTTP body, a
graphql-transport-ws `subscribe` payload) and graphql-transport-ws messages.

Both transports read fields from decoded JSON. A value of the wrong JSON type reached code
that assumed the right one: a body that was an array or a number raised AttributeError (a
500 and a dropped connection), a frame that was not an object or had a list for its `id`
closed the WebSocket abnormally (1006), a `variables` that was a number went silent. Each
problem is named here, once, for the transport to refuse: HTTP with 400, the WebSocket by
closing with 4400 as graphql-transport-ws asks for an invalid message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strawberry.http.parse_content_type import parse_content_type

__all__ = [
    "foreign_charset",
    "is_json_body",
    "json_kind",
    "media_type_of",
    "message_problem",
    "names_a_document",
    "request_problem",
]

JSON = "application/json"

# graphql-transport-ws messages a client sends: whether each carries an operation id, and
# whether it may carry a payload (an object or null); a field the protocol does not name
# for a message is ignored, as graphql-ws's own validation does.
_CLIENT_MESSAGES = {
    "connection_init": (False, True),
    "ping": (False, True),
    "pong": (False, True),
    "subscribe": (True, True),
    "complete": (True, False),
}


def is_json_body(content_type: str) -> bool:
    """Whether the view reads a POST body of this `Content-Type` as JSON: its media type
    (parsed as strawberry parses it, in any case: RFC 9110, 8.3.1) contains
    `application/json`, in UTF-8 (a `charset` parameter naming another is refused, rather
    than its text read as UTF-8). The check path, which answers in front of the view, asks
    this too, so that it answers only what the view would have read."""
    # What clients send, without the e-mail header parser strawberry reads it with.
    if content_type == JSON:
        return True
    media, parameters = parse_content_type(content_type)
    return JSON in media.lower() and _foreign(parameters) is None


def media_type_of(content_type: str) -> str:
    """The media type a Content-Type names, in lower case, without its parameters."""
    return parse_content_type(content_type)[0].strip().lower()


def foreign_charset(content_type: str) -> str | None:
    """The `charset` a Content-Type names when it is not UTF-8, the only one the service
    reads (JSON exchanged between systems is UTF-8, RFC 8259, 8.1); else None. The parser
    gives parameter names in lower case, and a charset's value is compared in any case
    (RFC 9110, 8.3.2)."""
    return _foreign(parse_content_type(content_type)[1])


def _foreign(parameters: Mapping[str, str]) -> str | None:
    charset = parameters.get("charset")
    if charset is None or charset.strip().lower() in ("utf-8", "utf8"):
        return None
    return charset


def json_kind(value: object) -> str:
    """What JSON calls the value's type, with its article: "an array", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def names_a_document(params: Mapping[str, Any]) -> bool:
    """Whether the request names a trusted document by id (`documentId`, or Apollo's
    `extensions.persistedQuery`), and so may leave out `query`."""
    extensions = params.get("extensions")
    return params.get("documentId") is not None or (
        isinstance(extensions, Mapping) and extensions.get("persistedQuery") is not None
    )


def request_problem(params: Mapping[str, Any], *, query_required: bool) -> str | None:
    """What is wrong with a request's `query`, `variables`, `operationName` and `extensions`
    (each optional, null as good as absent, unless `query_required`); None when nothing."""
    query = params.get("query")
    if not isinstance(query, str) and (query_required or query is not None):
        return f"`query` must be a string, not {json_kind(query)}"
    for name, wanted, check in (
        ("variables", "an object", dict),
        ("operationName", "a string", str),
        ("extensions", "an object", dict),
    ):
        value = params.get(name)
        if value is not None and not isinstance(value, check):
            return f"`{name}` must be {wanted} or null, not {json_kind(value)}"
    return None


def message_problem(message: object) -> str | None:
    """What makes a graphql-transport-ws message from a client unreadable; None when
    nothing. Message types the protocol does not name are left to the handler, which
    refuses them by name."""
    if not isinstance(message, dict):
        return f"a message must be a JSON object, not {json_kind(message)}"
    kind = message.get("type")
    if not isinstance(kind, str):
        return f"a message's `type` must be a string, not {json_kind(kind)}"
    if kind not in _CLIENT_MESSAGES:
        return None
    has_id, has_payload = _CLIENT_MESSAGES[kind]
    if has_id:
        operation = message.get("id")
        if not isinstance(operation, str) or not operation:
            return f"a {kind} message's `id` must be a non-empty string"
    payload = message.get("payload")
    if kind == "subscribe":
        if not isinstance(payload, dict):
            return f"a subscribe message's `payload` must be an object, not {json_kind(payload)}"
        return request_problem(payload, query_required=not names_a_document(payload))
    if has_payload and payload is not None and not isinstance(payload, dict):
        return f"a {kind} message's `payload` must be an object, not {json_kind(payload)}"
    return None
