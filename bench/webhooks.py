"""Benchmark: webhooks from commit to delivery, 100 endpoints on one replica.

Starts a receiver (its own process, `webhook_receiver.py`) and `benefitgate serve` (one
worker) on a fresh database, registers 100 endpoints, then:

1. latency: commits events one by one at a steady rate, each delivered to all 100
   endpoints; prints commit-to-delivery p50 and p99 (target: p99 under 250 ms);
2. throughput: commits a burst of events and prints deliveries per second until all
   arrived;
3. the floor, in the same run: the same receiver hit directly with the same bodies, at
   the same concurrency (100 at once), by a client in this process.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/webhooks.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import orjson

from benefitgate import db, migrate
from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role
from scratch import scratch_database

HERE = Path(__file__).resolve().parent
ENDPOINTS = int(os.environ.get("BENCH_ENDPOINTS", "100"))
RATE = float(os.environ.get("BENCH_EVENTS_PER_SECOND", "5"))  # latency phase
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
BURST = int(os.environ.get("BENCH_BURST", "100"))  # throughput phase: events
PORT, RECEIVER_PORT = 8775, 8776
DATA_DIR = Path(".data/bench-webhooks").resolve()

CREATE = """mutation($url: String!, $key: String!) {
  webhookEndpointCreate(url: $url, idempotencyKey: $key) { __typename } }"""


def server_dsn() -> tuple[str, db.EmbeddedPostgres | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    embedded = db.EmbeddedPostgres(Path(".data/bench").resolve())
    return embedded.start(), embedded


async def prepare(server: str, name: str) -> tuple[str, str]:
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    dsn = db.with_database(server, name)
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn)
        key = (await apikeys.create_key(conn, name="bench", role=Role.ADMIN)).secret
    finally:
        await conn.close()
    return dsn, key


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def wait_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing answers at {url}")


async def stats(http: httpx.AsyncClient) -> dict[str, list[float] | int]:
    response = await http.get(f"http://127.0.0.1:{RECEIVER_PORT}/stats")
    data: dict[str, list[float] | int] = response.json()
    return data


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def commit_events(dsn: str, count: int, rate: float | None) -> None:
    conn = await db.connect(dsn)
    try:
        for n in range(count):
            await conn.execute(
                "insert into events (type, payload) values ('bench.tick', $1)", {"n": n}
            )
            await conn.execute("select pg_notify('benefitgate_events', '')")
            if rate is not None:
                await asyncio.sleep(1 / rate)
    finally:
        await conn.close()


async def until_arrived(http: httpx.AsyncClient, total: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if len((await stats(http))["latencies_ms"]) >= total:  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"only {len((await stats(http))['latencies_ms'])} of {total} arrived")  # type: ignore[arg-type]


async def floor(total: int) -> tuple[float, float, float]:
    """Posts per second, p50 and p99 ms, posting straight to the receiver with the
    service's HTTP client (aiohttp), `ENDPOINTS` at once."""
    body = orjson.dumps({"type": "bench.tick", "timestamp": "", "data": {"n": 0}})
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)

    async def worker(session: aiohttp.ClientSession, name: int) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            now = datetime.now(UTC).isoformat()
            stamped = body.replace(b'"timestamp":""', f'"timestamp":"{now}"'.encode())
            started = time.perf_counter()
            async with session.post(
                f"http://127.0.0.1:{RECEIVER_PORT}/hooks/e{name}",
                data=stamped,
                headers={"webhook-id": str(n), "content-type": "application/json"},
            ) as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=ENDPOINTS)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session, i) for i in range(ENDPOINTS)))
        elapsed = time.perf_counter() - started
    return total / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)


async def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded, "bench_webhooks")
    dsn, key = await prepare(server, name)
    receiver = start(
        [sys.executable, "-m", "uvicorn", "webhook_receiver:app", "--port", str(RECEIVER_PORT),
         "--log-level", "warning", "--app-dir", str(HERE)],
        {},
    )  # fmt: skip
    service = start(
        [str(Path(sys.executable).parent / "benefitgate"), "serve"],
        {
            "DATABASE_URL": dsn,
            "BENEFITGATE_PORT": str(PORT),
            "BENEFITGATE_LOG_LEVEL": "WARNING",
            "BENEFITGATE_SCHEDULER_SECONDS": "0",
            "BENEFITGATE_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "BENEFITGATE_WEBHOOK_KEY": "bench-key",
            "BENEFITGATE_DATA_DIR": str(DATA_DIR),
        },
    )
    try:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=ENDPOINTS)) as http:
            await wait_up(f"http://127.0.0.1:{RECEIVER_PORT}/stats")
            await wait_up(f"http://127.0.0.1:{PORT}/healthz")
            for n in range(ENDPOINTS):
                await http.post(
                    f"http://127.0.0.1:{PORT}/graphql",
                    json={
                        "query": CREATE,
                        "variables": {
                            "url": f"http://127.0.0.1:{RECEIVER_PORT}/hooks/e{n}",
                            "key": f"bench-{n}",
                        },
                    },
                    headers={"authorization": f"Bearer {key}"},
                )

            events = int(RATE * SECONDS)
            await commit_events(dsn, events, RATE)
            await until_arrived(http, events * ENDPOINTS)
            got = await stats(http)
            latencies: list[float] = got["latencies_ms"]  # type: ignore[assignment]
            print(f"latency: {events} events x {ENDPOINTS} endpoints at {RATE:g} events/s")
            print(
                f"  commit to delivery p50 {percentile(latencies, 0.5):.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms "
                f"(target p99 < 250 ms); duplicates {got['duplicates']}"
            )

            await http.post(f"http://127.0.0.1:{RECEIVER_PORT}/reset")
            started = time.perf_counter()
            await commit_events(dsn, BURST, None)
            await until_arrived(http, BURST * ENDPOINTS)
            got = await stats(http)
            arrivals: list[float] = got["arrivals"]  # type: ignore[assignment]
            span = max(arrivals) - min(arrivals)
            total = len(arrivals)
            print(f"throughput: a burst of {BURST} events x {ENDPOINTS} endpoints")
            print(
                f"  {total / span:,.0f} deliveries/s ({total} in {span:.2f} s; "
                f"{time.perf_counter() - started:.2f} s from the first commit); "
                f"duplicates {got['duplicates']}"
            )

            await http.post(f"http://127.0.0.1:{RECEIVER_PORT}/reset")
            rate, p50, p99 = await floor(BURST * ENDPOINTS)
            print(f"floor: the receiver hit directly, {ENDPOINTS} at once")
            print(f"  {rate:,.0f} posts/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms per post")
            print(f"  the service reaches {total / span / rate:.2f} of the floor's rate")
    finally:
        service.terminate()
        receiver.terminate()
        service.wait()
        receiver.wait()
        admin = await db.connect(server)
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
