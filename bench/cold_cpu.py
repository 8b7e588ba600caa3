"""What a cold `account` view costs the app's CPU: the response cache off, no Redis, the
ASGI app driven directly in process (no client, no socket), one request after another.

Seeds BENCH_ACCOUNTS (default 500) demo accounts into a fresh database, or uses BENCH_DSN
(seeded, with BENCH_KEY an admin key), so that two codes can be run in turn on one
database (`PYTHONPATH=<their src>`). For each document (the full view of `account_view.py`,
the lean view of `postgraphile.py`, the name alone), every account is read once, then
BENCH_REQUESTS (default 3,000) requests for random accounts are timed in blocks of 200;
the median block's CPU a request is printed, which other work on a shared machine moves
less than the mean.

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
from pathlib import Path

import asyncpg
from asgi_lifespan import LifespanManager

from benefitgate.app import create_app
from benefitgate.config import Settings

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
    app = create_app(settings, dsn)
    async with LifespanManager(app) as manager:
        for label, query in DOCUMENTS.items():
            bodies = {a: json.dumps({"query": query, "variables": {"id": a}}).encode() for a in ids}
            for body in bodies.values():
                assert await call(manager.app, scope_of(key, body), body) == 200
            sent = [bodies[random.choice(ids)] for _ in range(REQUESTS)]
            blocks = []
            for start in range(0, REQUESTS, BLOCK):
                cpu = time.process_time()
                for body in sent[start : start + BLOCK]:
                    await call(manager.app, scope_of(key, body), body)
                blocks.append((time.process_time() - cpu) / BLOCK * 1e6)
            print(f"{label}: {statistics.median(blocks):.0f} us of CPU a request (median block)")


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
