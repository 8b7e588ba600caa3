"""Rate limits per caller over real HTTP: a token bucket per principal (a frontend's
account, a partner, an API key, or a client address without a credential), 429 with
Retry-After and the RateLimit header fields, quotas per role, shared across replicas
through Redis and kept per process while Redis is down."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from benefitgate.auth.principals import Role, issue_frontend_token
from benefitgate.clock import FixedClock
from benefitgate.config import Quota
from tests.conftest import JWT_SECRET, ServeLive, api_key, frontend_token
from tests.fixtures.factories import NOW
from tests.fixtures.live import free_port, raw_socket
from tests.fixtures.redis import RedisTier

QUERY = {"query": "{ __typename }"}


def quotas(**given: str) -> dict[str, Quota | None]:
    return {role: Quota.parse(raw) for role, raw in given.items()}


@contextlib.asynccontextmanager
async def client(port: int) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        yield http


async def ask(http: httpx.AsyncClient, credential: str | None) -> httpx.Response:
    headers = {} if credential is None else {"authorization": f"Bearer {credential}"}
    return await http.post("/graphql", json=QUERY, headers=headers)


async def test_a_caller_past_its_quota_gets_429_with_retry_after_and_ratelimit_fields(
    serve_live: ServeLive, clock: FixedClock
) -> None:
    token = frontend_token(uuid.uuid4())
    async with serve_live(rate_quotas=quotas(frontend="3/60")) as port, client(port) as http:
        answers = [await ask(http, token) for _ in range(4)]
        clock.advance(timedelta(seconds=20))  # one token back: 3 per 60 s
        after_wait = await ask(http, token)
        again = await ask(http, token)

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit"] for a in answers] == [
        '"frontend";r=2;t=20',
        '"frontend";r=1;t=40',
        '"frontend";r=0;t=60',
        '"frontend";r=0;t=60',
    ]
    assert all(a.headers["ratelimit-policy"] == '"frontend";q=3;w=60' for a in answers)
    refused = answers[-1]
    assert refused.headers["retry-after"] == "20"
    assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    assert "retry in 20 s" in refused.json()["errors"][0]["message"]
    assert "retry-after" not in answers[0].headers
    assert after_wait.status_code == 200 and again.status_code == 429


async def test_buckets_are_per_account_per_partner_and_per_api_key(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    account, other_account = uuid.uuid4(), uuid.uuid4()
    partner = await conn.fetchval(
        "insert into partners (id, name) values ($1, 'p') returning id", uuid.uuid4()
    )
    partner_keys = [await api_key(conn, Role.PARTNER, partner) for _ in range(2)]
    operator_keys = [await api_key(conn, Role.OPERATOR) for _ in range(2)]
    user_a = issue_frontend_token(
        JWT_SECRET, subject="a", account_id=account, now=NOW, ttl=timedelta(hours=1)
    )
    user_b = issue_frontend_token(
        JWT_SECRET, subject="b", account_id=account, now=NOW, ttl=timedelta(hours=1)
    )
    limits = quotas(frontend="2/60", partner="2/60", operator="2/60")
    async with serve_live(rate_quotas=limits) as port, client(port) as http:

        async def statuses(*credentials: str) -> list[int]:
            return [(await ask(http, c)).status_code for c in credentials]

        # Two users of one account share its bucket; another account has its own.
        same_account = await statuses(user_a, user_b, user_a)
        other = await statuses(frontend_token(other_account))
        # Every key of a partner takes from the partner's bucket.
        partner_answers = await statuses(*partner_keys, partner_keys[0])
        # Each internal key has its own.
        operator_answers = await statuses(*operator_keys, *operator_keys)

    assert same_account == [200, 200, 429]
    assert other == [200]
    assert partner_answers == [200, 200, 429]
    assert operator_answers == [200, 200, 200, 200]


async def test_requests_without_a_usable_credential_share_their_address_bucket(
    serve_live: ServeLive,
) -> None:
    async with serve_live(rate_quotas=quotas(anonymous="2/60")) as port, client(port) as http:
        answers = [await ask(http, c) for c in (None, "forged", None)]
        valid = await ask(http, frontend_token(uuid.uuid4()))  # no frontend quota: no limit

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[0].headers["ratelimit-policy"] == '"anonymous";q=2;w=60'
    assert valid.status_code == 200 and "ratelimit" not in valid.headers


async def test_quotas_are_per_role(conn: asyncpg.Connection, serve_live: ServeLive) -> None:
    admin = await api_key(conn, Role.ADMIN)
    token = frontend_token(uuid.uuid4())
    limits = quotas(frontend="1/10", admin="5/10")
    async with serve_live(rate_quotas=limits) as port, client(port) as http:
        frontend_answers = [(await ask(http, token)).status_code for _ in range(2)]
        admin_answers = [(await ask(http, admin)).status_code for _ in range(6)]

    assert frontend_answers == [200, 429]
    assert admin_answers == [200] * 5 + [429]


async def test_health_probes_are_not_limited(serve_live: ServeLive) -> None:
    async with serve_live(rate_quotas=quotas(anonymous="1/60")) as port, client(port) as http:
        probes = [(await http.get("/healthz")).status_code for _ in range(3)]
    assert probes == [200, 200, 200]


async def test_two_replicas_share_one_bucket_through_redis(
    serve_live: ServeLive, redis_tier: RedisTier
) -> None:
    shared: dict[str, Any] = {
        "rate_quotas": quotas(frontend="10/60"),
        "redis_url": redis_tier.url,
        "redis_prefix": redis_tier.prefix,
    }
    token = frontend_token(uuid.uuid4())
    async with (
        serve_live(**shared) as one,
        serve_live(**shared) as two,
        client(one) as first,
        client(two) as second,
    ):
        answers = await asyncio.gather(
            *(ask(first, token) for _ in range(15)), *(ask(second, token) for _ in range(15))
        )
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 10 and codes.count(429) == 20
    assert await redis_tier.keys()  # the bucket is in Redis, under this test's prefix


async def test_with_redis_down_each_replica_keeps_its_own_bucket(
    serve_live: ServeLive,
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    token = frontend_token(uuid.uuid4())
    limits = quotas(frontend="3/60")
    async with serve_live(rate_quotas=limits, redis_url=down) as port, client(port) as http:
        codes = [(await ask(http, token)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


async def test_a_websocket_subscribe_takes_from_the_same_bucket_as_requests(
    serve_live: ServeLive,
) -> None:
    token = frontend_token(uuid.uuid4())
    subscribe = {
        "type": "subscribe",
        "payload": {"query": "subscription { events { __typename } }"},
    }
    async with (
        serve_live(rate_quotas=quotas(frontend="2/60")) as port,
        client(port) as http,
        raw_socket(port) as ws,
    ):
        first = await ask(http, token)
        await ws.init(token)
        await ws.send({**subscribe, "id": "1"})  # the second token
        await ws.send({**subscribe, "id": "2"})
        refused = await ws.receive()
        after = await ask(http, token)

    assert first.status_code == 200 and after.status_code == 429
    assert refused["id"] == "2" and refused["type"] == "error"
    (error,) = refused["payload"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 30}


async def test_bad_credentials_over_websocket_take_from_the_address_bucket_too(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    # connection_init took no token: with the address's bucket empty (HTTP answered 429),
    # bad keys sent over WebSocket were each checked and refused with 4403 at full speed.
    forged = f"bgk_{'0' * 12}_{'s' * 32}"
    key = await api_key(conn)
    closes = []
    async with serve_live(rate_quotas=quotas(anonymous="2/60")) as port, client(port) as http:
        for _ in range(2):
            async with raw_socket(port) as ws:
                await ws.init_without_ack(forged)
                closes.append((await ws.closed_with(), ws.ws.close_reason))
        over_http = await ask(http, "forged")
        async with raw_socket(port) as ws:
            await ws.init_without_ack(forged)
            closes.append((await ws.closed_with(), ws.ws.close_reason))
        async with raw_socket(port) as ws:  # a usable credential has its own bucket
            acknowledged = await ws.init(key)

    assert closes[:2] == [(4403, "Forbidden: unknown API key")] * 2
    assert over_http.status_code == 429  # one bucket for both transports
    code, reason = closes[2]
    assert code == 1008
    assert (reason or "").startswith("RATE_LIMITED: rate limit of 2 requests per 60 s")
    assert acknowledged == {"type": "connection_ack"}


async def test_a_credential_the_rate_limit_refused_is_answered_401_without_a_second_check(
    serve_live: ServeLive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rate limit verifies the credential to find the caller's bucket; a refusal is
    answered as it stands (a forged token's check cost as much as a whole request)."""
    decoded = []
    real_decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)  # as `principals` calls it
    forged = frontend_token(uuid.uuid4(), secret="another-secret-of-sufficient-length-here")
    expired = frontend_token(uuid.uuid4(), ttl=timedelta(seconds=-1))
    limits = quotas(frontend="100/60", anonymous="100/60")
    async with serve_live(rate_quotas=limits) as port, client(port) as http:
        answers = [await ask(http, credential) for credential in (forged, expired, None)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert [a.json()["errors"][0]["message"] for a in answers] == [
        "invalid token",
        "token expired",
        "missing credentials",
    ]
    assert all(a.headers["ratelimit-policy"] == '"anonymous";q=100;w=60' for a in answers)
    assert decoded == [forged, expired]  # each checked once
