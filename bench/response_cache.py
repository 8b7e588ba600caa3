"""Benchmark: the account view through the response cache, against the raw ASGI floor.

Seeds demo accounts into a fresh database, starts `benefitgate serve` (one worker, uvloop,
the response cache on, Redis as the shared tier when REDIS_URL is set) and drives the lean
account view with wrk over a hot set of accounts:

1. warm: every hot account read once first, then only hits;
2. 95/5: the same while a writer commits usage changes to random hot accounts (a counter
   update and its touch, as usage ingest does), one for every 19 reads the server counts,
   so that about one read in twenty misses after a write;
3. the floor: a bare Starlette endpoint answering a body of the same size.

Prints req/s, p50 and p99 of each, the ratios to the floor, the hit ratio the server
counted, and the replica's memory (the local tier's bytes and the process's RSS).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/response_cache.py
Settings: BENCH_ACCOUNTS (10000), BENCH_HOT (1000), BENCH_CONNECTIONS (16),
BENCH_DURATION (15s). BENCH_CALLER=frontend reads each account with a frontend token of
its own (minted once per account, as a frontend holds one) instead of the admin API key;
frontends' rate limit is then off, as the admin's always is here, unless
BENCH_FRONTEND_RATE gives their quota. Needs `wrk`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from account_view import (
    CONNECTIONS,
    FLOOR_PORT,
    QUERY,
    one_response,
    prepare,
    serve_benefitgate,
    serve_floor,
    server_dsn,
    suggestions_computed,
    wait_until_up,
    wrk,
)
from benefitgate import db
from benefitgate.auth.principals import issue_frontend_token
from consume_check import family
from scratch import scratch_database

PORT = 8775
HOT = int(os.environ.get("BENCH_HOT", "1000"))
DURATION = os.environ.get("BENCH_DURATION", "15s")
CALLER = os.environ.get("BENCH_CALLER", "admin")  # or frontend: a token per account
# Frontends' quota in that mode: off, or one no run reaches (`1000000/60`), to measure what
# taking a token costs a hit (from a bucket in Redis when REDIS_URL is set).
FRONTEND_RATE = os.environ.get("BENCH_FRONTEND_RATE", "off")
JWT_SECRET = secrets.token_urlsafe(32)  # the server is given it, to check the tokens
MISS_SHARE = 0.05
WARM_PASSES = 20


def cache_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as response:
        ready: dict[str, Any] = json.loads(response.read())
    stats: dict[str, Any] = ready["responseCache"]
    return stats


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def write_while(dsn: str, ids: list[str], stop: asyncio.Event) -> int:
    """Commit a usage change to a random hot account (the counter and its touch in one
    transaction, as usage ingest writes them) for every 19 reads the server counted, so
    that about one read in twenty misses after a write."""
    conn = await db.connect(dsn)
    writes, start = 0, await asyncio.to_thread(cache_stats, PORT)
    try:
        while not stop.is_set():
            now = await asyncio.to_thread(cache_stats, PORT)
            reads = now["hits"] + now["misses"] - start["hits"] - start["misses"]
            while writes < reads * MISS_SHARE / (1 - MISS_SHARE):
                account = uuid.UUID(random.choice(ids))
                async with conn.transaction():
                    await conn.execute(
                        "update usage_counters set value = value + 1 where account_id = $1"
                        " and period_end > now()",
                        account,
                    )
                    await conn.execute("select pg_notify('benefitgate_touched', $1)", str(account))
                writes += 1
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return writes


def warm(port: int, credential: dict[str, str], ids: list[str]) -> int:
    """Read every hot account until a whole pass is answered from the cache; returns the
    passes it took. The scheduler's first jobs after start-up (suggestions, reports)
    commit events for every account for some seconds, and each invalidates the views read
    before it: one pass was not enough (130 of 1,000 views were dropped again before the
    round began, each a miss of the round's first seconds)."""
    for passes in range(1, WARM_PASSES + 1):
        before = cache_stats(port)["misses"]
        for account_id in ids:
            one_response(port, credential[account_id], account_id)
        if cache_stats(port)["misses"] == before:
            return passes
    return WARM_PASSES


def measure_mixed(dsn: str, env: dict[str, str], hot: list[str]) -> tuple[Any, int]:
    async def run() -> tuple[Any, int]:
        stop = asyncio.Event()
        writer = asyncio.create_task(write_while(dsn, hot, stop))
        figures = await asyncio.to_thread(wrk, PORT, env, CONNECTIONS, DURATION)
        stop.set()
        return figures, await writer

    return asyncio.run(run())


def credentials(key: str, ids: list[str]) -> dict[str, str]:
    """The credential each account is read with: the admin key, or its own token."""
    if CALLER != "frontend":
        return {account: key for account in ids}
    now, ttl = datetime.now(UTC), timedelta(hours=2)
    return {
        account: issue_frontend_token(
            JWT_SECRET, subject="bench", account_id=uuid.UUID(account), now=now, ttl=ttl
        )
        for account in ids
    }


def line(label: str, figures: dict[str, float], floor: dict[str, float]) -> str:
    cpu = f"  server CPU {figures['cpu_us']:5.1f} us a request" if "cpu_us" in figures else ""
    return (
        f"  {label + ':':16}{figures['rps']:8.0f} req/s  p50 {figures['p50']:6.2f} ms  "
        f"p99 {figures['p99']:6.2f} ms  ratio to floor {figures['rps'] / floor['rps']:.3f}{cpu}"
    )


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    server, embedded = server_dsn()
    dsn, key, ids = asyncio.run(prepare(server, scratch_database(server, embedded)))
    hot = random.Random(7).sample(ids, min(HOT, len(ids)))
    work = Path(tempfile.mkdtemp())
    credential = credentials(key, hot)
    lines = hot if CALLER != "frontend" else [f"{a} {credential[a]}" for a in hot]
    (work / "ids.txt").write_text("\n".join(lines))
    request = json.dumps({"query": QUERY, "variables": {"id": "ACCOUNT"}}).replace("%", "%%")
    (work / "query.json").write_text(request.replace('"ACCOUNT"', '"%s"'))
    env = {
        "BENCH_IDS": str(work / "ids.txt"),
        "BENCH_QUERY": str(work / "query.json"),
        "BENCH_KEY": key,
    }
    cache_env = {
        "BENEFITGATE_RESPONSE_CACHE": "1",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "BENEFITGATE_JWT_SECRET": JWT_SECRET,
    }
    if CALLER == "frontend":
        cache_env["BENEFITGATE_RATE_FRONTEND"] = FRONTEND_RATE
    service = serve_benefitgate(dsn, PORT, work, cache_env)
    try:
        wait_until_up(PORT)
        asyncio.run(suggestions_computed(dsn))
        sample = one_response(PORT, credential[hot[0]], hot[0])
        (work / "floor.json").write_bytes(sample)
        passes = warm(PORT, credential, hot)
        before = cache_stats(PORT)
        warm_figures = wrk(PORT, env, CONNECTIONS, DURATION, pid=family(service.pid))
        after_warm = cache_stats(PORT)
        mixed, writes = measure_mixed(dsn, env, hot)
        after_mixed = cache_stats(PORT)
        rss = rss_mib(service.pid)
    finally:
        service.terminate()
        service.wait()
    floor_proc = serve_floor(work / "floor.json")
    try:
        wait_until_up(FLOOR_PORT)
        floor = wrk(FLOOR_PORT, env, CONNECTIONS, DURATION, pid=floor_proc.pid)
    finally:
        floor_proc.terminate()
        floor_proc.wait()

    def ratio(a: dict[str, Any], b: dict[str, Any]) -> str:
        hits, misses = b["hits"] - a["hits"], b["misses"] - a["misses"]
        return f"{hits / max(hits + misses, 1):.3f} ({hits} hits, {misses} misses)"

    shared = "Redis shared tier" if cache_env["REDIS_URL"] else "no shared tier"
    print(
        f"\nresponse cache, lean account view, {CALLER} callers, {len(ids)} accounts, "
        f"{len(hot)} hot, "
        f"{CONNECTIONS} connections, {DURATION} each, response {len(sample)} bytes, {shared}"
    )
    print(line("warm", warm_figures, floor))
    print(line("95/5 with writes", mixed, floor))
    print(line("floor", floor, floor))
    print(f"  hit ratio warm: {ratio(before, after_warm)}, after {passes} passes of warming")
    print(f"  hit ratio 95/5: {ratio(after_warm, after_mixed)}; {writes} writes committed")
    print(
        f"  replica memory: local tier {after_mixed['entries']} entries, "
        f"{after_mixed['bytes'] / 1024:.0f} KiB accounted; process RSS {rss:.0f} MiB"
    )
    print("  targets: warm >= 0.7 of the floor")


if __name__ == "__main__":
    main()
