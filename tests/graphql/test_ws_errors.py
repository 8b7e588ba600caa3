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
