"""The WebSocket surface: graphql-transport-ws only, authentication in connection_init, a
short init timeout, a cap per connection, subscriptions only, and a clean close on
shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import asyncpg
import httpx

from benefitgate.events import outbox as events
from benefitgate.events.outbox import START
from tests.conftest import ServeLive, api_key, frontend_token
from tests.fixtures.live import EVENTS, raw_socket

SUBSCRIBE = {
    "type": "subscribe",
    "payload": {"query": "subscription { events { __typename } }"},
}
MARK = "catalog.published"  # a type a stream may follow alone


async def test_a_valid_credential_in_connection_init_is_acknowledged(
    conn: asyncpg.Connection, live_port: int
) -> None:
    async with raw_socket(live_port) as ws:
        assert await ws.init(await api_key(conn)) == {"type": "connection_ack"}


async def test_a_bad_or_missing_credential_closes_the_connection_with_4403(
    live_port: int,
) -> None:
    forged = frontend_token(uuid.uuid4(), secret="another-secret-that-is-long-enough-too")
    for credential in ("not-a-token", None, forged):
        async with raw_socket(live_port) as ws:
            await ws.init_without_ack(credential)
            assert await ws.closed_with() == 4403


async def test_a_nul_character_in_a_message_closes_the_connection_with_4400(
    conn: asyncpg.Connection, live_port: int
) -> None:
    key = await api_key(conn)
    async with raw_socket(live_port) as ws:
        await ws.init_without_ack(f"{key}\x00")  # it failed in the key lookup, closing 1006
        assert await ws.closed_with() == 4400
    async with raw_socket(live_port) as ws:
        await ws.init(key)
        await ws.send({**SUBSCRIBE, "id": "nul\x00"})
        assert await ws.closed_with() == 4400


async def test_a_message_refused_as_it_is_read_closes_with_a_reason_that_says_why(
    conn: asyncpg.Connection, live_port: int
) -> None:
    """All three closed with "WebSocket message must be valid JSON", though the first is
    valid JSON."""
    key = await api_key(conn)
    long_path = "é" * 300  # two bytes a character
    frames = [
        (
            json.dumps(
                {
                    **SUBSCRIBE,
                    "id": "1",
                    "payload": {
                        "query": "subscription { events { __typename } }",
                        "variables": {"after": "a\x00b"},
                    },
                }
            ),
            "text cannot hold a NUL character (\\u0000), as the "
            "request.payload.variables.after does",
        ),
        ('{"type": "subscribe", "id": "\\ud800", "payload": {}}', None),
        ('{"type": "subscribe", "payload": ' + "[" * 5000 + "]" * 5000 + "}", None),
        (json.dumps({"type": "subscribe", "id": "1", long_path: "\x00"}), None),
    ]
    reasons = []
    for frame, _ in frames:
        async with raw_socket(live_port) as ws:
            await ws.init(key)
            await ws.ws.send(frame)
            assert await ws.closed_with() == 4400
            reasons.append(ws.ws.close_reason)

    assert reasons[0] == frames[0][1]
    assert reasons[1] == "WebSocket message must be valid JSON: no low surrogate in string"
    assert reasons[2] == "WebSocket message must be valid JSON: depth limit exceeded"
    # A reason naming a long path is cut to what a close frame holds (123 bytes).
    assert reasons[3] is not None and reasons[3].endswith("\u2026")
    assert len(reasons[3].encode()) <= 123


async def test_a_connection_without_init_is_closed_after_the_init_timeout(
    serve_live: ServeLive,
) -> None:
    async with serve_live(live_init_seconds=0.3) as port, raw_socket(port) as ws:
        assert await ws.closed_with(wait=3) == 4408


async def test_the_legacy_graphql_ws_protocol_is_refused(live_port: int) -> None:
    async with raw_socket(live_port, subprotocol="graphql-ws") as ws:
        assert ws.ws.subprotocol is None
        assert await ws.closed_with() == 4406


async def test_subscriptions_per_connection_are_capped(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    async with serve_live(live_max_subscriptions=2) as port, raw_socket(port) as ws:
        await ws.init(await api_key(conn))
        for n in range(3):
            await ws.send({**SUBSCRIBE, "id": str(n)})
        refused = await ws.receive()

    assert refused == {
        "id": "2",
        "type": "error",
        "payload": [
            {
                "message": "at most 2 operations run on one connection: complete one first",
                "extensions": {"code": "SUBSCRIPTION_LIMIT"},
            }
        ],
    }


async def test_queries_and_mutations_go_over_http_not_the_websocket(
    conn: asyncpg.Connection, live_port: int
) -> None:
    async with raw_socket(live_port) as ws:
        await ws.init(await api_key(conn))
        await ws.send({"id": "q", "type": "subscribe", "payload": {"query": "{ tiers { key } }"}})
        refused = await ws.receive()

    assert refused["type"] == "error" and refused["id"] == "q"
    (error,) = refused["payload"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}  # it had none
    assert error["message"].startswith("queries are not served over WebSocket"), error


async def test_subscriptions_are_not_served_over_http(
    conn: asyncpg.Connection, live_port: int
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{live_port}") as http:
        response = await http.post(
            "/graphql",
            json={"query": "subscription { events { __typename } }"},
            headers={
                "authorization": f"Bearer {await api_key(conn)}",
                "accept": "multipart/mixed;subscriptionSpec=1.0, text/event-stream",
            },
        )

    assert response.status_code in (400, 405), response.text


async def test_shutdown_closes_live_connections_with_service_restart(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    key = await api_key(conn)
    async with contextlib.AsyncExitStack() as stack:
        async with serve_live() as port:
            ws = await stack.enter_async_context(raw_socket(port))
            await ws.init(key)
            await ws.send({**SUBSCRIBE, "id": "1"})
            await asyncio.sleep(0.1)
        # Leaving `serve_live` stopped the server as SIGTERM does.
        assert await ws.closed_with() == 1012


async def test_messages_of_the_wrong_shape_close_the_connection_with_4400(
    conn: asyncpg.Connection, live_port: int
) -> None:
    # The stock handler indexed into each message: a frame that was not an object, or an id
    # or payload of the wrong type, raised and closed the socket abnormally (1006); an id
    # that was a number started a subscription, and a `variables` that was one went silent.
    key = await api_key(conn)
    query = "subscription { events { __typename } }"
    frames: list[object] = [
        [],
        7,
        "subscribe",
        None,
        {"type": ["subscribe"]},
        {"type": "subscribe", "id": ["a"], "payload": {"query": query}},
        {"type": "subscribe", "id": 1, "payload": {"query": query}},
        {"type": "subscribe", "id": "a", "payload": "x"},
        {"type": "subscribe", "id": "a", "payload": None},
        {"type": "subscribe", "id": "a", "payload": {"query": 1}},
        {"type": "subscribe", "id": "a", "payload": {"query": query, "variables": 1}},
        {"type": "subscribe", "id": "a", "payload": {"query": query, "operationName": []}},
        {"type": "subscribe", "id": "a", "payload": {"query": query, "extensions": "x"}},
        {"type": "complete", "id": 1},
        {"type": "ping", "payload": 1},
    ]
    for frame in frames:
        async with raw_socket(live_port) as ws:
            await ws.init(key)
            await ws.ws.send(json.dumps(frame))
            assert await ws.closed_with() == 4400, frame
            assert ws.ws.close_reason, frame
    async with raw_socket(live_port) as ws:  # before connection_init too
        await ws.ws.send("[]")
        assert await ws.closed_with() == 4400


async def test_a_subscribe_that_fails_to_parse_or_validate_gets_an_error_for_its_id(
    conn: asyncpg.Connection, live_port: int
) -> None:
    # A syntax error, the token limit and an unknown fragment ended the operation with a
    # bare `complete` (the fragment's KeyError unlogged), and an unknown operation name
    # closed the whole connection.
    documents = {
        "syntax": ("subscription { events { ", "Syntax Error"),
        "tokens": (
            "subscription { events { " + "__typename " * 1_100 + "} }",
            "more than 1000 tokens",
        ),
        "aliases": (
            "subscription { events { " + " ".join(f"a{i}: __typename" for i in range(11)) + " } }",
            "aliases found",
        ),
        "fragment": ("subscription { events { ...F } }", "Unknown fragment 'F'."),
        # Ran the first operation, as if it had been named.
        "unnamed": (
            "subscription A { events { __typename } } subscription B { events { __typename } }",
            "Must provide operation name if query contains multiple operations.",
        ),
    }
    async with raw_socket(live_port) as ws:
        await ws.init(await api_key(conn))
        for operation_id, (query, expected) in documents.items():
            await ws.send({"id": operation_id, "type": "subscribe", "payload": {"query": query}})
            answer = await ws.receive()
            assert answer["id"] == operation_id and answer["type"] == "error", answer
            assert expected in answer["payload"][0]["message"], answer
        named = {"query": "subscription A { events { __typename } }", "operationName": "B"}
        await ws.send({"id": "named", "type": "subscribe", "payload": named})
        unnamed = await ws.receive()
        await ws.send({"type": "ping"})
        still_open = await ws.receive()

    assert unnamed["id"] == "named" and unnamed["type"] == "error"
    assert still_open == {"type": "pong"}


async def test_a_null_payload_is_as_good_as_none_where_the_protocol_allows_it(
    live_port: int, serve_live: ServeLive
) -> None:
    # graphql-transport-ws lets connection_init, ping and pong carry a payload that is an
    # object, null or missing; a null connection_init payload closed the socket with 4400.
    async with serve_live(dev_mode=True) as port, raw_socket(port) as ws:
        await ws.send({"type": "connection_init", "payload": None})  # anonymous in dev mode
        assert await ws.receive() == {"type": "connection_ack"}
        await ws.send({"type": "pong", "payload": None})
        await ws.send({"type": "ping", "payload": None})
        assert await ws.receive() == {"type": "pong"}
    async with raw_socket(live_port) as ws:  # no credential outside dev mode: refused as such
        await ws.send({"type": "connection_init", "payload": None})
        assert await ws.closed_with() == 4403


async def test_fields_the_protocol_does_not_name_for_a_message_are_ignored(
    conn: asyncpg.Connection, live_port: int
) -> None:
    # Found by the frame fuzzer: a `complete` carrying a `payload` (which the protocol does
    # not define for it) closed the socket with 4400; graphql-ws ignores such fields.
    async with raw_socket(live_port) as ws:
        await ws.init(await api_key(conn))
        await ws.send({**SUBSCRIBE, "id": "1"})
        extras: list[object] = [[], 7, "x", {"a": 1}]
        for extra in extras:
            await ws.send({"type": "complete", "id": "1", "payload": extra})
        await ws.send({"type": "ping", "id": ["not", "an", "id"]})
        assert await ws.receive() == {"type": "pong"}


async def test_a_completed_operation_sends_nothing_more_nor_mixes_with_its_ids_next_use(
    conn: asyncpg.Connection, live_port: int
) -> None:
    # A replay page (500 events) went out whole after the client's `complete`: the task's
    # cancellation waited for a suspension that sending a page never made. A subscribe at
    # once under the same id then received the old stream's frames as its own.
    async with conn.transaction():
        for n in range(600):
            await events.enqueue(conn, "test.tick", None, {"n": n})
        for n in range(3):
            await events.enqueue(conn, MARK, None, {"n": n})
    replay = {"query": EVENTS, "variables": {"after": START.encode()}}
    only_tocks = {"query": EVENTS, "variables": {"after": START.encode(), "types": [MARK]}}
    async with raw_socket(live_port) as ws:
        await ws.init(await api_key(conn))
        await ws.send({"id": "1", "type": "subscribe", "payload": replay})
        first = await ws.receive()
        await ws.send({"id": "1", "type": "complete"})
        await ws.send({"id": "1", "type": "subscribe", "payload": only_tocks})
        frames = [first]
        while sum(f["payload"]["data"]["events"]["type"] == MARK for f in frames) < 3:
            frames.append(await ws.receive())
        await ws.send({"type": "ping"})
        rest = [await ws.receive()]
        while rest[-1]["type"] != "pong":
            rest.append(await ws.receive())

    kinds = [f["payload"]["data"]["events"]["type"] for f in frames]
    assert {f["id"] for f in frames} == {"1"}
    ticks = kinds.index(MARK)
    assert kinds[ticks:] == [MARK] * 3  # the old stream's frames all came before
    assert ticks < 250, f"{ticks} events of the completed stream went out"
    assert rest == [{"type": "pong"}]


async def test_a_connection_init_payload_must_be_an_object_and_its_id_is_ignored(
    conn: asyncpg.Connection, live_port: int
) -> None:
    # graphql-transport-ws: connection_init's payload is an optional object (null as good
    # as none); the message has no `id`, so one of any type is ignored, as graphql-ws does.
    payloads: list[object] = [[], "x", 7, True]
    for payload in payloads:
        async with raw_socket(live_port) as ws:
            await ws.send({"type": "connection_init", "payload": payload})
            assert await ws.closed_with() == 4400, payload
            assert (ws.ws.close_reason or "").startswith(
                "a connection_init message's `payload` must be an object, not "
            ), payload
    key = await api_key(conn)
    ids: list[object] = [["a"], 7, {}, None, "1"]
    for operation_id in ids:
        async with raw_socket(live_port) as ws:
            init = {"type": "connection_init", "id": operation_id}
            await ws.send({**init, "payload": {"authorization": f"Bearer {key}"}})
            assert await ws.receive() == {"type": "connection_ack"}, operation_id


async def test_an_authorization_that_is_not_a_string_is_refused_with_its_reason(
    live_port: int,
) -> None:
    async with raw_socket(live_port) as ws:
        await ws.send({"type": "connection_init", "payload": {"authorization": ["Bearer x"]}})
        assert await ws.closed_with() == 4403
        reason = ws.ws.close_reason

    assert reason == "Forbidden: `authorization` must be a string, not an array"


async def test_an_authorization_given_in_both_spellings_is_refused(
    conn: asyncpg.Connection, live_port: int
) -> None:
    key = await api_key(conn)
    both = {"authorization": f"Bearer {key}", "Authorization": "Bearer someone-else"}
    async with raw_socket(live_port) as ws:
        await ws.send({"type": "connection_init", "payload": both})
        assert await ws.closed_with() == 4403
        reason = ws.ws.close_reason

    assert reason == "Forbidden: send one `authorization`, not both spellings"
