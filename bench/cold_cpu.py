"""What a cold `account` view costs the app's CPU: the response cache off, no Redis, the
ASGI app driven directly in process (no client, no socket), one request after another.

Seeds BENCH_ACCOUNTS (default 500) demo accounts into a fresh database, or uses BENCH_DSN
(seeded, with BENCH_KEY an admin key), so that two codes can be run in turn on one
database (`PYTHONPATH=<their src>`). Two apps serve in the one process: one answers view
documents in front of Strawberry (`graphql.fast.queries`, the default), the other leaves
them to Strawberry (`BENEFITGATE_FAST_QUERIES=off`). For each document (the full view of
`account_view.py`, the lean view of `postgraphile.py`, the name alone), every account is
read once by each, then BENCH_REQUESTS (default 3,000) requests for random accounts are
timed in blocks of 200, each block sent to both apps in turn, so that the machine's drift
(two runs of one code on this shared machine differed by a fifth) hits both alike; the
median block's CPU a request is printed, which other work moves less than the mean.

Then the lean view **without GraphQL**: the same authentication (the cached key), the
same one statement and access check, the domain's usage rows, the answer built from them
as a dict and encoded with orjson, checked equal to the service's answer for every account
first. No parsing, validation, execution, extensions or HTTP view: what is left of the
request for any path in front of Strawberry (the floor of a compiled executor).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/cold_cpu.py
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from asgi_lifespan import LifespanManager
from starlette.requests import Request

from benefitgate.accounts.access import visible_account
from benefitgate.accounts.service import account_tier
from benefitgate.api.context import Context
from benefitgate.app import AppState, create_app
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types
from benefitgate.config import Settings
from benefitgate.views.loaders import Loaders, load_account_parts

os.environ.setdefault("BENEFITGATE_RATE_ADMIN", "off")  # thousands of requests from one key
from account_view import QUERY as FULL
from account_view import prepare, server_dsn
from profile_check import call, scope_of
from scratch import scratch_database

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "500"))
BLOCK = 200
DOCUMENTS = {
    "full view": FULL,
    "lean view": """query($id: ID!) { account(id: $id) { ... on Account { id name
      subscription { status } tier { key benefits { benefit { key } } }
      usage { metric { key } used } } } }""",
    "name only": "query($id: ID!) { account(id: $id) { ... on Account { id name } } }",
}


async def measure(dsn: str, key: str, ids: list[str]) -> None:
    base = Settings.from_env()
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    settings = Settings(
        **{
            **fields,
            "database_url": dsn,
            "data_dir": Path(tempfile.mkdtemp()),
            "log_level": "WARNING",
            "response_cache": False,
            "redis_url": None,
            "scheduler_seconds": 0,
        }
    )
    ahead = create_app(replace(settings, fast_queries=True), dsn)
    through = create_app(replace(settings, fast_queries=False), dsn)
    async with LifespanManager(ahead) as manager, LifespanManager(through) as strawberry:
        apps = {"in front of Strawberry": manager.app, "through Strawberry": strawberry.app}
        for label, query in DOCUMENTS.items():
            bodies = {a: json.dumps({"query": query, "variables": {"id": a}}).encode() for a in ids}
            for app in apps.values():
                for body in bodies.values():
                    assert await call(app, scope_of(key, body), body) == 200
            sent = [bodies[random.choice(ids)] for _ in range(REQUESTS)]
            blocks: dict[str, list[float]] = {name: [] for name in apps}
            for start in range(0, REQUESTS, BLOCK):
                for name, app in apps.items():  # alternating: the machine's drift hits both
                    cpu = time.process_time()
                    for body in sent[start : start + BLOCK]:
                        await call(app, scope_of(key, body), body)
                    blocks[name].append((time.process_time() - cpu) / BLOCK * 1e6)
            shown = ", ".join(f"{statistics.median(b):.0f} us {name}" for name, b in blocks.items())
            print(f"{label}: {shown} (CPU a request, median block)")
        await measure_without_graphql(manager.app, ahead.state.benefitgate, key, ids)


async def measure_without_graphql(app: Any, state: AppState, key: str, ids: list[str]) -> None:
    for account in ids:
        body = json.dumps({"query": DOCUMENTS["lean view"], "variables": {"id": account}})
        served = await answer_of(app, key, body.encode())
        assert orjson.loads(await lean_without_graphql(state, key, account)) == served
    sent = [random.choice(ids) for _ in range(REQUESTS)]
    blocks = []
    for start in range(0, REQUESTS, BLOCK):
        cpu = time.process_time()
        for account in sent[start : start + BLOCK]:
            await lean_without_graphql(state, key, account)
        blocks.append((time.process_time() - cpu) / BLOCK * 1e6)
    median = statistics.median(blocks)
    print(f"lean view without GraphQL: {median:.0f} us of CPU a request (median block)")


async def lean_without_graphql(state: AppState, key: str, account_id: str) -> bytes:
    """The lean view's answer as the service gives it, from the same reads and domain
    code, with no GraphQL: what a path in front of Strawberry would still have to do."""
    principal = await state.authenticator.from_header(f"Bearer {key}")
    now = datetime.now(UTC)
    context = Context(_REQUEST, principal, state.pool, now, state.shared, live=state.hub)
    uuid = UUID(account_id)
    try:
        await load_account_parts(context, uuid, grants=True, usage=True)
        account = await visible_account(SimpleNamespace(context=context), uuid)  # type: ignore[arg-type]
        catalog = await catalog_of(context)
        rows = await context.loader(Loaders).usage_by_account.load(uuid)
    finally:
        await context.db.release()
    assert account is not None
    version = account_tier(account, catalog)
    tier = None
    if version is not None:
        kept = catalog_types(catalog).tiers[version.id]
        benefits = [{"benefit": {"key": b.benefit.key}} for b in kept.benefits]
        tier = {"key": kept.key, "benefits": benefits}
    sub = account.subscription
    view = {
        "id": str(account.id),
        "name": account.name,
        "subscription": None if sub is None else {"status": sub.status.upper()},
        "tier": tier,
        "usage": [{"metric": {"key": r.metric.key}, "used": r.used} for r in rows],
    }
    return orjson.dumps({"data": {"account": view}})


_REQUEST = Request({"type": "http", "method": "POST", "path": "/graphql", "headers": []})


async def answer_of(app: Any, key: str, body: bytes) -> Any:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_of(key, body), receive, send)
    return orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def ids_of(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [str(r["id"]) for r in await conn.fetch("select id from accounts")]
    finally:
        await conn.close()


def main() -> None:
    dsn = os.environ.get("BENCH_DSN")
    if dsn:
        key, ids = os.environ["BENCH_KEY"], asyncio.run(ids_of(dsn))
    else:
        server, embedded = server_dsn()
        name = scratch_database(server, embedded)
        dsn, key, ids = asyncio.run(prepare(server, name, ACCOUNTS))
    asyncio.run(measure(dsn, key, ids))


if __name__ == "__main__":
    main()
