"""Where a cold `account` request's time goes in the service: cProfile over sequential
requests, in process, grouped by layer.

Seeds 2,000 demo accounts into a fresh database (or uses BENCH_DSN, already seeded),
builds the app with its lifespan, and sends BENCH_REQUESTS (default 2,000) requests of
each document one after another through httpx's ASGI transport, under cProfile. Prints,
per document, the microseconds per request spent in each layer (own time of the
functions of that layer's files), the client's share left out.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_view.py
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from benefitgate import db
from benefitgate.app import create_app
from benefitgate.config import Settings

os.environ.setdefault("BENCH_ACCOUNTS", "2000")
os.environ.setdefault("BENEFITGATE_RATE_ADMIN", "off")  # thousands of requests from one key
# Cold requests, as `postgraphile.py` serves them: no response cache, no Redis (a REDIS_URL
# left in the environment would add the shared tiers' round trips to every request).
os.environ["BENEFITGATE_RESPONSE_CACHE"] = "0"
os.environ["REDIS_URL"] = ""
from account_view import prepare, server_dsn
from scratch import scratch_database

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
TOP = int(os.environ.get("BENCH_TOP", "12"))
DOCUMENTS = {
    "name only": "query($id: ID!) { account(id: $id) { ... on Account { id name } } }",
    "lean view": """query($id: ID!) { account(id: $id) { ... on Account { id name
      subscription { status } tier { key benefits { benefit { key } } }
      usage { metric { key } used } } } }""",
    "check (feature), snapshots warm": """query Check($id: ID!) { entitlementCheck(accountId: $id,
      feature: "anomaly_alerts") { ... on EntitlementCheck { allowed reason } } }""",
}
# Layers, by the path of a function's file; the first match wins.
LAYERS = [
    ("client (httpx, left out)", ("httpx", "h11", "anyio")),
    ("database driver (asyncpg)", ("asyncpg",)),
    ("benefitgate middleware", ("benefitgate/graphql/middleware", "benefitgate/logs")),
    ("benefitgate auth", ("benefitgate/auth",)),
    (
        "benefitgate view (HTTP edge)",
        (
            "benefitgate/graphql/view",
            "benefitgate/graphql/shapes",
            "benefitgate/graphql/unstorable",
        ),
    ),
    ("benefitgate fast executor", ("benefitgate/graphql/fast",)),
    ("benefitgate resolvers, loaders, domain", ("benefitgate/",)),
    ("strawberry (HTTP, schema, extensions)", ("strawberry", "cross_web")),
    ("graphql-core (parse, validate, execute)", ("graphql/",)),
    ("starlette", ("starlette",)),
    ("json (orjson, json)", ("orjson", "json/")),
    ("asyncio and the event loop", ("asyncio", "uvloop", "selectors")),
]


def layer_of(filename: str) -> str:
    for name, needles in LAYERS:
        if any(n in filename for n in needles):
            return name
    return "other (builtins, stdlib)"


async def run(dsn: str, key: str, ids: list[str]) -> None:
    settings = Settings.from_env()
    app = create_app(
        Settings(**{**{f: getattr(settings, f) for f in settings.__dataclass_fields__},
                    "database_url": dsn, "data_dir": Path(tempfile.mkdtemp()),
                    "log_level": "WARNING", "scheduler_seconds": 0}),
        dsn,
    )  # fmt: skip
    headers = {"authorization": f"Bearer {key}"}
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, query in DOCUMENTS.items():
                picks = [random.choice(ids) for _ in range(REQUESTS)]
                # Warm: caches and statements; for checks, every account's snapshot.
                for account in ids if "Check" in query else picks[:200]:
                    await client.post(
                        "/graphql",
                        json={"query": query, "variables": {"id": account}},
                        headers=headers,
                    )
                profile = cProfile.Profile()
                started = time.perf_counter()
                profile.enable()
                for account in picks:
                    response = await client.post(
                        "/graphql", json={"query": query, "variables": {"id": account}},
                        headers=headers,
                    )  # fmt: skip
                    assert response.status_code == 200 and b"errors" not in response.content
                profile.disable()
                wall = (time.perf_counter() - started) / REQUESTS * 1e6
                report(name, profile, wall)


def report(name: str, profile: cProfile.Profile, wall_us: float) -> None:
    stats = pstats.Stats(profile)
    by_layer: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_layer[layer_of(filename)] += own
    total = sum(v for k, v in by_layer.items() if not k.startswith("client"))
    print(f"\n{name}: {wall_us:.0f} us wall per request under the profiler,"
          f" {total / REQUESTS * 1e6:.0f} us of service CPU (profiled)")  # fmt: skip
    for layer, seconds in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        if layer.startswith("client"):
            continue
        print(f"  {layer:44}{seconds / REQUESTS * 1e6:7.0f} us  {seconds / total:6.1%}")
    costly = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    print("  costliest functions of the service (own time):")
    shown = [(f, v) for f, v in costly if not layer_of(f[0]).startswith("client")][:TOP]
    for (filename, line, function), (_, calls, own, _, _) in shown:
        where = f"{Path(filename).name}:{line}" if line else filename
        print(f"    {own / REQUESTS * 1e6:7.0f} us  {calls / REQUESTS:6.1f}x  {function} ({where})")


def main() -> None:
    given = os.environ.get("BENCH_DSN")
    if given:
        dsn, key, ids = asyncio.run(_existing(given))
    else:
        server, embedded = server_dsn()
        dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded)))
    asyncio.run(run(dsn, key, ids))


async def _existing(dsn: str) -> tuple[str, str, list[str]]:
    from benefitgate.auth import apikeys
    from benefitgate.auth.principals import Role

    conn = await db.connect(dsn)
    try:
        key = (await apikeys.create_key(conn, name="profile", role=Role.ADMIN)).secret
        ids = [str(r["id"]) for r in await conn.fetch("select id from accounts")]
    finally:
        await conn.close()
    return dsn, key, ids


if __name__ == "__main__":
    main()
