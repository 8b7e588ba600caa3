"""The browser-facing edge over real HTTP and WebSocket connections: CORS for configured
origins (preflight answered, credentials per setting), the Origin check on WebSocket
upgrades, WebSocket message size and rate, and the request header size limit."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from benefitgate.auth.principals import Role
from benefitgate.config import Quota
from tests.conftest import JWT_SECRET, ServeLive, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.live import RawSocket, ServiceProcess

APP = "https://app.example.com"
PROTOCOL = [Subprotocol("graphql-transport-ws")]


def socket_to(port: int) -> connect:
    return connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=PROTOCOL)


async def preflight(port: int, origin: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.options(
            f"http://127.0.0.1:{port}/graphql",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )


async def test_a_preflight_from_a_configured_origin_is_answered(serve_live: ServeLive) -> None:
    async with serve_live(cors_origins=(APP,)) as port:
        allowed = await preflight(port, APP)
        foreign = await preflight(port, "https://evil.example.net")
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": "{ __typename }"},
                headers={"origin": APP},
            )

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    # The actual request: readable by the page, with the rate limit fields exposed.
    assert answer.headers["access-control-allow-origin"] == APP
    assert "ratelimit" in answer.headers["access-control-expose-headers"].lower()


async def test_a_cross_origin_page_may_revalidate_a_get_with_its_etag(
    serve_live: ServeLive,
) -> None:
    """A preflight asking for `If-None-Match` was refused (CORS_REFUSED), and `ETag` was not
    exposed: a page on another origin could not use the ETag and 304 of GET queries."""
    url_params = {"query": "{ __typename }"}
    sent = {"origin": APP, "authorization": f"Bearer {frontend_token(uuid.uuid4())}"}
    live = serve_live(cors_origins=(APP,), response_cache=True)
    async with live as port, httpx.AsyncClient() as http:
        url = f"http://127.0.0.1:{port}/graphql"
        asked = await http.options(
            url,
            headers={
                "origin": APP,
                "access-control-request-method": "GET",
                "access-control-request-headers": "authorization, if-none-match",
            },
        )
        first = await http.get(url, params=url_params, headers=sent)
        etag = first.headers.get("etag", "")
        again = await http.get(url, params=url_params, headers={**sent, "if-none-match": etag})

    assert asked.status_code == 200, asked.text
    assert "if-none-match" in asked.headers["access-control-allow-headers"].lower()
    assert first.status_code == 200, first.text
    exposed = {h.strip() for h in first.headers["access-control-expose-headers"].split(",")}
    expected = {"etag", "ratelimit", "ratelimit-policy", "retry-after", "x-request-id", "allow"}
    assert expected <= {h.lower() for h in exposed}, exposed
    assert again.status_code == 304
    assert again.headers["access-control-allow-origin"] == APP
    assert "etag" in again.headers["access-control-expose-headers"].lower()


async def test_a_refused_preflight_answers_in_the_json_error_shape_naming_what_was_refused(
    serve_live: ServeLive,
) -> None:
    """Starlette's refusal was the plain text "Disallowed CORS origin"; every other refusal
    of the service is JSON with a code."""
    foreign = "https://evil.example.net"
    asked = [
        ({"origin": foreign}, [f"origin '{foreign}' may not call this API"]),
        ({"access-control-request-method": "PUT"}, ["method 'PUT' is not allowed (GET, POST are)"]),
        ({"access-control-request-headers": "authorization, x-debug"}, ["header 'x-debug'"]),
        (
            {"origin": foreign, "access-control-request-method": "DELETE"},
            [f"origin '{foreign}'", "method 'DELETE'"],
        ),
    ]
    async with serve_live(cors_origins=(APP,)) as port, httpx.AsyncClient() as http:
        answers = []
        for headers, _ in asked:
            sent = {
                "origin": APP,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
                **headers,
            }
            answers.append(await http.options(f"http://127.0.0.1:{port}/graphql", headers=sent))
        allowed = await preflight(port, APP)

    for answer, (headers, named) in zip(answers, asked, strict=True):
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/json"
        if "origin" in headers:  # a foreign origin is granted nothing, as before
            assert "access-control-allow-origin" not in answer.headers
        (error,) = answer.json()["errors"]
        assert error["extensions"] == {"code": "CORS_REFUSED"}
        assert error["message"].startswith("CORS preflight refused: ")
        for part in named:
            assert part in error["message"], error["message"]
        assert "Disallowed" not in answer.text
    assert allowed.status_code == 200  # unchanged: Starlette's answer
    assert allowed.headers["access-control-allow-origin"] == APP


async def test_credentials_are_allowed_only_when_configured(serve_live: ServeLive) -> None:
    async with serve_live(cors_origins=(APP,), cors_credentials=True) as port:
        answer = await preflight(port, APP)
    assert answer.headers["access-control-allow-credentials"] == "true"


async def test_without_configured_origins_no_cross_origin_call_is_allowed(
    live_port: int,
) -> None:
    answer = await preflight(live_port, APP)
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers


async def test_a_websocket_upgrade_from_a_foreign_origin_is_refused_before_accepting(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    key = await api_key(conn)
    async with serve_live(cors_origins=(APP,)) as port:
        url = f"ws://127.0.0.1:{port}/graphql"
        foreign = Origin("https://evil.example.net")
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, subprotocols=PROTOCOL, origin=foreign)
        # A configured origin, the service's own, and a client that names none all pass.
        for origin in (Origin(APP), Origin(f"http://127.0.0.1:{port}"), None):
            async with connect(url, subprotocols=PROTOCOL, origin=origin) as ws:
                assert await RawSocket(ws).init(key) == {"type": "connection_ack"}

    assert refused.value.response.status_code == 403


async def test_a_websocket_message_above_the_body_limit_closes_with_1009(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    key = await api_key(conn)
    async with serve_live(max_body_bytes=10_000) as port, socket_to(port) as ws:
        socket = RawSocket(ws)
        await socket.init(key)
        await socket.send({"id": "1", "type": "subscribe", "payload": {"query": "x" * 9_000}})
        answered = await socket.receive()  # under the limit: answered, an invalid document
        big = {"id": "2", "type": "subscribe", "payload": {"query": "é" * 6_000}}
        await socket.send(big)  # 6,000 characters, 12,000 bytes
        code = await socket.closed_with()

    assert answered["type"] == "error"
    assert code == 1009
    assert ws.close_reason == "message above 10000 bytes"


async def test_a_connection_sending_faster_than_its_quota_is_closed_with_1008(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    key = await api_key(conn)
    async with serve_live(live_message_quota=Quota(5, 60)) as port, socket_to(port) as ws:
        socket = RawSocket(ws)
        await socket.init(key)  # one message
        for n in range(5):
            await socket.send({"id": str(n), "type": "complete"})
        code = await socket.closed_with()

    assert code == 1008
    assert ws.close_reason == "more than 5 messages in 60 s"


async def test_headers_above_the_limit_get_431(live_port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{live_port}") as http:
        fits = await http.post("/graphql", json={}, headers={"x-pad": "a" * 15_000})
        above = await http.post("/graphql", json={}, headers={"x-pad": "a" * 17_000})
        huge = await http.post("/graphql", json={}, headers={"x-pad": "a" * 2_000_000})
    assert fits.status_code == 401
    for answer in (above, huge):
        assert answer.status_code == 431
        assert answer.json()["errors"][0]["extensions"] == {"code": "HEADERS_TOO_LARGE"}


async def test_a_websocket_upgrade_with_headers_above_the_limit_is_refused(
    live_port: int,
) -> None:
    async def upgrade(padding: int) -> bytes:
        """The server's answer to a hand-written upgrade request (the websockets client
        would not report the status of a refusal this large)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", live_port)
        pad = "".join(f"x-pad-{n}: {'a' * padding}\r\n" for n in range(3))
        writer.write(
            f"GET /graphql HTTP/1.1\r\nhost: 127.0.0.1:{live_port}\r\n"
            "upgrade: websocket\r\nconnection: Upgrade\r\n"
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
            f"sec-websocket-protocol: graphql-transport-ws\r\n{pad}\r\n".encode()
        )
        try:
            return await asyncio.wait_for(reader.read(1_000), 5)
        finally:
            writer.close()

    accepted = await upgrade(1_000)
    refused = await upgrade(6_000)
    assert accepted.startswith(b"HTTP/1.1 101 ")
    assert refused.startswith(b"HTTP/1.1 431 ")
    body = refused.partition(b"\r\n\r\n")[2]
    assert json.loads(body)["errors"][0]["extensions"] == {"code": "HEADERS_TOO_LARGE"}


async def test_benefitgate_serve_applies_the_limits_of_its_environment(
    conn: asyncpg.Connection, dsn: str, tmp_path: Path
) -> None:
    """The settings as the environment gives them, under the server `serve` runs: the
    anonymous quota, and a WebSocket message above the body limit (1 MiB) closing 1009."""
    env = {"BENEFITGATE_RATE_ANONYMOUS": "2/60", "BENEFITGATE_LIVE_MESSAGE_RATE": "off"}
    service = ServiceProcess(dsn, JWT_SECRET, tmp_path, env)
    key = await api_key(conn)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            codes = [(await http.post("/graphql", json={})).status_code for _ in range(3)]
        async with socket_to(service.port) as ws:
            socket = RawSocket(ws)
            await socket.init(key)
            await ws.send("x" * (1_048_576 + 1))
            code = await socket.closed_with()
    finally:
        await service.stop()

    assert codes == [401, 401, 429]
    assert code == 1009


async def test_a_client_gone_before_its_body_arrived_is_logged_499_not_an_error(
    conn: asyncpg.Connection, live_port: int
) -> None:
    key = await api_key(conn)
    records: list[logging.LogRecord] = []
    both_logged = asyncio.Event()

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            if sum(r.name == "benefitgate.access" for r in records) == 2:
                both_logged.set()

    loggers = [logging.getLogger(name) for name in ("benefitgate.access", "uvicorn.error")]
    handler, levels = Kept(), [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        for path in ("/graphql", "/events"):
            # Promise more body than is sent, then hang up: Starlette raised ClientDisconnect
            # reading it, which was answered 500 and logged with its traceback.
            _, writer = await asyncio.open_connection("127.0.0.1", live_port)
            body = b'{"query": "{ __typename }"}'
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body) + 50}\r\n\r\n"
                .encode() + body
            )  # fmt: skip
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        async with asyncio.timeout(10):  # until both requests are done with
            await both_logged.wait()
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)

    access = [r.getMessage() for r in records if r.name == "benefitgate.access"]
    assert sorted(access) == ["POST /events 499", "POST /graphql 499"]
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []


async def test_a_request_with_two_authorization_headers_is_refused(
    conn: asyncpg.Connection, live_port: int
) -> None:
    reseller = await factories.partner(conn)
    admin, partner = await api_key(conn), await api_key(conn, Role.PARTNER, reseller)
    events = ("content-type", "application/cloudevents-batch+json")
    answers = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{live_port}") as http:
        for first, last in ((admin, partner), (partner, admin), ("bgk_x_y", admin)):
            both = [("authorization", f"Bearer {first}"), ("authorization", f"Bearer {last}")]
            query = {"query": "{ __typename }"}
            answers.append(await http.post("/graphql", json=query, headers=both))
            answers.append(await http.post("/events", content=b"[]", headers=[*both, events]))
    # The rate limit authenticated the last and the rest of the service the first: the
    # events endpoint acted for one caller where GraphQL acted for the other.
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_a_body_in_a_content_coding_is_refused_415(
    conn: asyncpg.Connection, live_port: int
) -> None:
    key = await api_key(conn)
    sent = [
        ("/graphql", "application/json", json.dumps({"query": "{ __typename }"}).encode()),
        ("/events", "application/cloudevents-batch+json", b"[]"),
    ]
    answers = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{live_port}") as http:
        for path, media, body in sent:
            for coding, content in (("gzip", gzip.compress(body)), ("br", body)):
                headers = {
                    "authorization": f"Bearer {key}",
                    "content-type": media,
                    "content-encoding": coding,
                }
                answers.append(await http.post(path, content=content, headers=headers))
            plain = {"authorization": f"Bearer {key}", "content-type": media}
            identity = await http.post(
                path, content=body, headers={**plain, "content-encoding": "identity"}
            )
            assert identity.status_code == 200, identity.text
    # gzip was "not JSON" (400), and a plain body marked `br` was read as if unmarked (200).
    for answer in answers:
        assert answer.status_code == 415, answer.text
        assert answer.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
        assert answer.headers["accept-encoding"] == "identity"
