"""What one `entitlementCheck` (or one response cache hit) costs the app itself: the ASGI
app driven directly (no client, no server, no socket), warm snapshots, CPU time per
request, then cProfile by function.

Seeds BENCH_ACCOUNTS (default 1,000) demo accounts into a fresh database (or uses
BENCH_DSN with BENCH_KEY), builds the app with its lifespan and calls it BENCH_REQUESTS
times (default 20,000) with the feature check of `consume_check.py`, one after another,
then the same under cProfile. The floor is `floor_app.py`'s app driven the same way.
BENCH_CHECK=metric checks a metric instead; BENCH_CHECK=view sends the lean account view
of `account_view.py` with the response cache on (its local tier), every account read once
first, and then only the accounts whose view was kept (an answer that changes with time
alone, such as a moving projection, is not), so that each measured request is a hit.
BENCH_CALLER=frontend sends each account's request with a frontend token of its own
(minted once per account, as a frontend holds one) instead of the admin API key.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_check.py
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from asgi_lifespan import LifespanManager

from benefitgate.app import create_app
from benefitgate.auth.principals import issue_frontend_token
from benefitgate.config import Settings
from benefitgate.http_protocol import BODY_WHOLE

os.environ.setdefault("BENEFITGATE_RATE_ADMIN", "off")  # as the service benchmarks run it
os.environ.setdefault("BENEFITGATE_RATE_FRONTEND", "off")  # as response_cache.py runs them
from account_view import QUERY as VIEW_QUERY
from account_view import prepare, server_dsn
from scratch import scratch_database

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20000"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "1000"))
TOP = int(os.environ.get("BENCH_TOP", "30"))
# BENCH_CHECK=metric checks a metric (one counter read each) instead of a feature;
# BENCH_CHECK=view reads the account view from the response cache.
CHECK = os.environ.get("BENCH_CHECK", "feature")
CALLER = os.environ.get("BENCH_CALLER", "admin")  # or frontend: a token per account
WHAT = 'metric: "api_calls", requested: 10' if CHECK == "metric" else 'feature: "anomaly_alerts"'
QUERY = (
    VIEW_QUERY
    if CHECK == "view"
    else f"""query Check($id: ID!) {{
  entitlementCheck(accountId: $id, {WHAT}) {{
    __typename ... on EntitlementCheck {{ allowed reason remaining tier }} }} }}"""
)


def scope_of(key: str, body: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000), "extensions": {},
        BODY_WHOLE: True,  # as the service's protocol marks a body that came with its head
    }  # fmt: skip


async def call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


async def drive(app: Any, credential: dict[str, str], label: str, front: Any = None) -> None:
    """`credential` gives the caller's credential for each account to read."""
    ids = list(credential)
    for account in ids:  # every snapshot warm, the plan accepted for the role
        body = json.dumps({"query": QUERY, "variables": {"id": account}}).encode()
        assert await call(app, scope_of(credential[account], body), body) == 200
    if front is not None:  # only the accounts whose view was kept: each request a hit
        ids = [account for account in ids if await _hit(app, credential, account, front)]
    chosen = [random.choice(ids) for _ in range(REQUESTS)]
    requests = [
        (credential[account], json.dumps({"query": QUERY, "variables": {"id": account}}).encode())
        for account in chosen
    ]
    hits = 0 if front is None else front.cache.local.hits
    started, cpu = time.perf_counter(), time.process_time()
    answered = [await call(app, scope_of(key, body), body) for key, body in requests]
    wall = (time.perf_counter() - started) / REQUESTS * 1e6
    used = (time.process_time() - cpu) / REQUESTS * 1e6
    hit = "" if front is None else f", {front.cache.local.hits - hits} hits"
    print(f"{label}: {used:.0f} us of CPU a request ({wall:.0f} us wall), {REQUESTS} requests{hit}")
    if set(answered) != {200}:
        raise SystemExit(f"answers other than 200 were timed: {sorted(set(answered))}")
    profile = cProfile.Profile()
    profile.enable()
    for key, body in requests[: REQUESTS // 4]:
        await call(app, scope_of(key, body), body)
    profile.disable()
    stats = pstats.Stats(profile)
    costly = sorted(stats.stats.items(), key=lambda kv: -kv[1][3])  # type: ignore[attr-defined]
    n = REQUESTS // 4
    print("  by cumulative time (profiled, us a request):")
    for (filename, line, function), (_, calls, own, cumulative, _) in costly[:TOP]:
        where = f"{Path(filename).name}:{line}" if line else filename
        figures = f"{cumulative / n * 1e6:7.1f} {own / n * 1e6:6.1f}  {calls / n:5.1f}x"
        print(f"    {figures}  {function} ({where})")


async def _hit(app: Any, credential: dict[str, str], account: str, front: Any) -> bool:
    body = json.dumps({"query": QUERY, "variables": {"id": account}}).encode()
    before = front.cache.local.hits
    await call(app, scope_of(credential[account], body), body)
    return bool(front.cache.local.hits > before)


async def run(dsn: str, key: str, ids: list[str]) -> None:
    base = Settings.from_env()
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    settings = Settings(**{**fields, "database_url": dsn, "data_dir": Path(tempfile.mkdtemp()),
                           "log_level": "WARNING", "response_cache": CHECK == "view",
                           "redis_url": None,
                           # No jobs: their events would turn some hits into misses.
                           "scheduler_seconds": 0 if CHECK == "view" else base.scheduler_seconds,
                           })  # fmt: skip
    app = create_app(settings, dsn)
    label = "response cache hit" if CHECK == "view" else f"{CHECK} check"
    credential = {account: key for account in ids}
    if CALLER == "frontend":
        label += ", frontend tokens"
        now, ttl = datetime.now(UTC), timedelta(hours=1)
        credential = {
            account: issue_frontend_token(
                settings.jwt_secret, subject="bench", account_id=UUID(account), now=now, ttl=ttl
            )
            for account in ids
        }
    async with LifespanManager(app) as manager:
        front = app.state.benefitgate.front
        await drive(manager.app, credential, f"benefitgate, {label}", front)
    os.environ["FLOOR_BODY_FILE"] = str(Path(__file__).with_name("floor_app.py"))
    from floor_app import app as floor

    await drive(floor, {account: key for account in ids[:10]}, "floor app (fixed body)")


def main() -> None:
    given = os.environ.get("BENCH_DSN")
    if given:
        asyncio.run(run(given, os.environ["BENCH_KEY"], os.environ["BENCH_IDS"].split(",")))
        return
    server, embedded = server_dsn()
    dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded), ACCOUNTS))
    print(f"BENCH_DSN={dsn} BENCH_KEY={key}")
    Path(tempfile.gettempdir(), "profile_check_ids").write_text(",".join(ids))
    asyncio.run(run(dsn, key, ids))


if __name__ == "__main__":
    main()
