"""Shared fixtures: a real Postgres per test (cloned from a migrated template), a fixed
clock, and the app served in process with its lifespan running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from benefitgate import db
from benefitgate.app import create_app
from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role, issue_frontend_token
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.repository import load_catalog
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from tests.fixtures.database import ServerDatabases, server_dsn
from tests.fixtures.factories import NOW
from tests.fixtures.live import serve_in_process
from tests.fixtures.redis import redis_tier as redis_tier  # a fixture, for every test

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256"


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    yield from server_dsn()


@pytest.fixture(scope="session")
async def databases(server: str) -> AsyncIterator[ServerDatabases]:
    dbs = ServerDatabases(server)
    yield dbs
    await dbs.drop_all()


@pytest.fixture(scope="session")
async def template(databases: ServerDatabases) -> str:
    return await databases.migrated_template()


@pytest.fixture
async def dsn(databases: ServerDatabases, template: str) -> str:
    return await databases.clone(template)


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await db.connect(dsn)
    yield connection
    await connection.close()


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of its own, for services called directly, outside the app."""
    created = await db.create_pool(dsn, min_size=1, max_size=8)
    yield created
    await created.close()


def catalog_loader(pool: asyncpg.Pool) -> Callable[[], Awaitable[Catalog]]:
    """What the app's scheduler jobs take to read the catalog, without the app's cache."""

    async def load() -> Catalog:
        async with pool.acquire() as conn:
            return await load_catalog(conn)

    return load


async def eventually(conn: asyncpg.Connection, sql: str, want: object) -> None:
    """Wait up to 10 s for `sql` to return `want` (work a background task does); the
    caller's own assertions then say what went wrong if it never does."""
    for _ in range(200):
        if await conn.fetchval(sql) == want:
            return
        await asyncio.sleep(0.05)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        jwt_secret=JWT_SECRET,
        dev_mode=False,
        graphiql=True,
        log_level="INFO",
        pool_min=1,
        pool_max=4,
        max_body_bytes=1_048_576,
        max_depth=10,
        max_tokens=1_000,
        max_aliases=10,
        scheduler_seconds=0,  # tests tick the scheduler themselves
        event_retention_days=0,  # and prune the outbox themselves: their clock is fake
        # Off unless a test is about it: most tests write with SQL or call services directly
        # and read back at once, which only the writes of API calls guarantee.
        response_cache=False,
    )


class Api:
    """An in-process client of the app, with helpers to post GraphQL."""

    def __init__(self, client: httpx.AsyncClient, app: Starlette | None = None) -> None:
        self.client = client
        self.app = app

    async def flush_denials(self) -> None:
        """Write the denials the app has tallied so far, as its flush loop would."""
        assert self.app is not None, "an Api made without its app"
        await self.app.state.benefitgate.denials.flush()

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        auth: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {**(headers or {})}
        if auth is not None:
            all_headers["authorization"] = f"Bearer {auth}"
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, auth: str
    ) -> dict[str, Any]:
        response = await self.post(query, variables, auth=auth)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


MakeApi = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


class SocketLikeTransport(httpx.ASGITransport):
    """The ASGI transport, with the response handed over a turn of the event loop after
    the app sent it, as a socket hands it to a real client. In process the app can answer
    and the test go on within one turn; what the request scheduled for the next one (such
    as asyncpg's query loggers, which it calls with `call_soon`) would then land in the
    test's next step instead."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        await asyncio.sleep(0)
        return response


@pytest.fixture
def make_api(dsn: str, settings: Settings, clock: FixedClock) -> MakeApi:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Api]:
        on_connect = overrides.pop("on_connect", None)
        app_clock = overrides.pop("clock", clock)
        app = create_app(
            replace(settings, **overrides), dsn, clock=app_clock, on_connect=on_connect
        )
        async with LifespanManager(app) as manager:
            transport = SocketLikeTransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Api(client, app)

    return start


@pytest.fixture
async def api(make_api: MakeApi) -> AsyncIterator[Api]:
    async with make_api() as started:
        yield started


ServeLive = Callable[..., contextlib.AbstractAsyncContextManager[int]]


@pytest.fixture
def serve_live(dsn: str, settings: Settings, clock: FixedClock) -> ServeLive:
    """Serve the app over TCP in this process (settings overridable); yields the port."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[int]:
        app = create_app(replace(settings, **overrides), dsn, clock=clock)
        async with serve_in_process(app) as port:
            yield port

    return start


@pytest.fixture
async def live_port(serve_live: ServeLive) -> AsyncIterator[int]:
    async with serve_live() as port:
        yield port


def frontend_token(
    account_id: UUID, *, ttl: timedelta = timedelta(hours=1), secret: str = JWT_SECRET
) -> str:
    return issue_frontend_token(secret, subject="user-1", account_id=account_id, now=NOW, ttl=ttl)


async def api_key(
    conn: asyncpg.Connection, role: Role = Role.ADMIN, partner_id: UUID | None = None
) -> str:
    issued = await apikeys.create_key(conn, name="test", role=role, partner_id=partner_id)
    return issued.secret
