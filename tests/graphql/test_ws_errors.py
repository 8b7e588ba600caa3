"""Request errors over graphql-transport-ws name no schema member outside development mode,
as over HTTP: an `error` message with no "Did you mean ...?"."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.conftest import ServeLive, frontend_token
from tests.fixtures.live import raw_socket

TYPOS = [
    "subscription { evnts { __typename } }",  # a field
    'subscription { events(afterr: "x") { __typename } }',  # an argument
    "subscription { events { ... on Evnt { id } } }",  # a type
]


@pytest.mark.parametrize("dev_mode", [False, True])
async def test_subscribe_errors_suggest_schema_names_only_in_development_mode(
    serve_live: ServeLive, dev_mode: bool
) -> None:
    async with serve_live(dev_mode=dev_mode) as port, raw_socket(port) as ws:
        await ws.init(frontend_token(uuid4()))
        errors = []
        for n, query in enumerate(TYPOS):
            await ws.send({"id": str(n), "type": "subscribe", "payload": {"query": query}})
            message = await ws.receive()
            assert (message["id"], message["type"]) == (str(n), "error"), message
            errors.append(" ".join(e["message"] for e in message["payload"]))

    for query, text in zip(TYPOS, errors, strict=True):
        assert ("Did you mean" in text) is dev_mode, (query, text)


@pytest.mark.parametrize(
    ("document", "kind"),
    [("{ __typename }", "queries"), ("mutation { __typename }", "mutations")],
)
async def test_a_query_or_mutation_over_websocket_is_refused_with_a_code(
    serve_live: ServeLive, document: str, kind: str
) -> None:
    """Refused as "queries are not allowed", with no code: every error has one. The
    connection stays open for subscriptions."""
    async with serve_live() as port, raw_socket(port) as ws:
        await ws.init(frontend_token(uuid4()))
        await ws.send({"id": "1", "type": "subscribe", "payload": {"query": document}})
        refused = await ws.receive()
        await ws.send({"id": "2", "type": "ping"})
        still_open = await ws.receive()

    assert (refused["id"], refused["type"]) == ("1", "error"), refused
    (error,) = refused["payload"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}, error
    assert error["message"].startswith(f"{kind} are not served over WebSocket: send them "), error
    assert "POST" in error["message"]
    assert still_open["type"] == "pong"
