"""Soak: mixed load on two replicas for a number of minutes, reporting every minute the
throughput, p99, errors and each replica's RSS.

Seeds demo accounts into a fresh database, starts two `benefitgate serve` processes (one
worker each), and runs BENCH_CLIENTS concurrent clients spread over both: the account view
(70 %), usage ingest of 20 events (15 %), a consumption (10 %), a seat assigned and
released (5 %, each writing an outbox event). The floor is the first minute after the
warm-up minute: RSS should stay within 10 % of it, and under 200 MB a worker.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/soak.py
BENCH_MINUTES (10), BENCH_CLIENTS (8) and BENCH_ACCOUNTS (10,000) override the defaults.
Without DATABASE_URL, an embedded Postgres is used.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from account_view import prepare, serve_benefitgate, server_dsn, suggestions_computed
from scratch import scratch_database

MINUTES = int(os.environ.get("BENCH_MINUTES", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
PORTS = (8771, 8772)

VIEW = """query View($id: ID!) { account(id: $id) { __typename ... on Account {
  id name subscription { status seats } tier { key name }
  entitlements { benefit { key } source } usage { metric { key } used limit remaining }
} } }"""
RECORD = """mutation Record($events: [UsageEventInput!]!) {
  usageRecord(events: $events) { __typename ... on UsageRecorded { accepted } } }"""
CONSUME = """mutation Consume($id: ID!, $metric: String!, $key: String!) {
  usageConsume(accountId: $id, metric: $metric, amount: 1, idempotencyKey: $key) {
  __typename } }"""
ASSIGN = """mutation Assign($id: ID!, $user: String!, $key: String!) {
  seatAssign(accountId: $id, user: $user, idempotencyKey: $key) { __typename } }"""
RELEASE = """mutation Release($id: ID!, $user: String!, $key: String!) {
  seatRelease(accountId: $id, user: $user, idempotencyKey: $key) { __typename } }"""


@dataclass
class Minute:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def post(http: httpx.AsyncClient, query: str, variables: dict[str, object]) -> bool:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    return response.status_code == 200 and "errors" not in response.json()


async def one_operation(http: httpx.AsyncClient, rng: random.Random, ids: list[str]) -> bool:
    account = rng.choice(ids)
    roll = rng.random()
    if roll < 0.70:
        return await post(http, VIEW, {"id": account})
    if roll < 0.85:
        now = datetime.now(UTC).isoformat()
        events = [
            {"eventId": uuid.uuid4().hex, "accountId": account, "metric": "api_calls",
             "value": 1, "occurredAt": now}
            for _ in range(20)
        ]  # fmt: skip
        return await post(http, RECORD, {"events": events})
    if roll < 0.95:
        return await post(http, CONSUME, {"id": account, "metric": "api_calls",
                                          "key": uuid.uuid4().hex})  # fmt: skip
    user = f"soak-{uuid.uuid4().hex[:8]}"
    assigned = await post(http, ASSIGN, {"id": account, "user": user, "key": uuid.uuid4().hex})
    released = await post(http, RELEASE, {"id": account, "user": user, "key": uuid.uuid4().hex})
    return assigned and released


async def client(n: int, key: str, ids: list[str], minutes: list[Minute], end: float) -> None:
    rng = random.Random(n)
    headers = {"authorization": f"Bearer {key}"}
    base = f"http://127.0.0.1:{PORTS[n % len(PORTS)]}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        started = time.monotonic()
        while (now := time.monotonic()) < end:
            minute = minutes[min(int((now - started) // 60), len(minutes) - 1)]
            try:
                ok = await one_operation(http, rng, ids)
            except httpx.HTTPError:
                ok = False
            minute.latencies.append(time.monotonic() - now)
            minute.errors += not ok


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(len(ordered) * 0.99)] if ordered else 0.0


async def report(pids: list[int], minutes: list[Minute], rss: list[list[float]]) -> None:
    for m in range(len(minutes)):
        await asyncio.sleep(60)
        rss.append([rss_mb(pid) for pid in pids])
        done = minutes[m]
        print(
            f"minute {m + 1:2}: {len(done.latencies) / 60:7.1f} req/s  "
            f"p99 {p99(done.latencies) * 1000:6.1f} ms  errors {done.errors:4}  "
            f"RSS {' / '.join(f'{r:.1f}' for r in rss[-1])} MB",
            flush=True,
        )


async def run(key: str, ids: list[str], pids: list[int]) -> None:
    minutes = [Minute() for _ in range(MINUTES)]
    rss: list[list[float]] = []
    end = time.monotonic() + MINUTES * 60
    await asyncio.gather(
        report(pids, minutes, rss), *(client(n, key, ids, minutes, end) for n in range(CLIENTS))
    )
    if len(rss) < 3:
        return
    floor = rss[1]  # the first minute after the warm-up minute
    last = rss[-1]
    growth = [(b - a) / a * 100 for a, b in zip(floor, last, strict=True)]
    rates = [len(m.latencies) / 60 for m in minutes]

    def mb(values: list[float]) -> str:
        return " / ".join(f"{v:.1f}" for v in values)

    grew = " / ".join(f"{g:+.1f}" for g in growth)
    print(f"RSS after warm-up {mb(floor)} MB, at the end {mb(last)} MB: growth {grew} % "
          "(target: within 10 %, under 200 MB)")  # fmt: skip
    requests = sum(len(m.latencies) for m in minutes)
    errors = sum(m.errors for m in minutes)
    print(f"throughput at the end {rates[-1] / rates[1]:.2f} of minute 2; "
          f"errors {errors} of {requests}")  # fmt: skip


def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    dsn, key, ids = asyncio.run(prepare(server, name))
    work = Path(tempfile.mkdtemp())
    replicas = [serve_benefitgate(dsn, port, work / str(port)) for port in PORTS]
    try:
        for port in PORTS:
            wait_until_ready(port)
        asyncio.run(suggestions_computed(dsn))
        print(f"{MINUTES} minutes, {CLIENTS} clients over {len(PORTS)} replicas", flush=True)
        asyncio.run(run(key, ids, [r.pid for r in replicas]))
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait()


def wait_until_ready(port: int) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the replica on {port} did not become ready")


if __name__ == "__main__":
    main()
