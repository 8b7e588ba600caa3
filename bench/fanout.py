"""Benchmark: live event fan-out, commit to delivery, across two service processes.

Seeds 100 partners managing 10 accounts each into a fresh database (`bg_bench_*`, dropped
at the end), starts two `benefitgate serve` processes, and connects 1,000 WebSocket
subscribers (graphql-transport-ws, partner API keys, ten per partner) split between them.
Once every subscriber has received a warm-up event, four writers commit a burst of events
on random accounts, one event per transaction; each event reaches the ten subscribers of
its account's partner. Prints commit-to-delivery p50, p99 and max, and deliveries per
second, and checks that every subscriber got exactly its partner's events.

The floor, measured in the same run with the same burst: commit to the moment a bare
`OutboxListener` in this process reads the event (NOTIFY, then the gap-free cursor's wait
for older open transactions), which any subscriber of the outbox waits for.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/fanout.py
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from benefitgate import db, migrate
from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role
from benefitgate.events import outbox as events
from benefitgate.events.listener import OutboxListener

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import cpu_seconds, serve_benefitgate, server_dsn, wait_until_up
from scratch import scratch_database

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "200"))
WRITERS = 4
PARTNERS, ACCOUNTS_PER_PARTNER = 100, 10
PORTS = (8771, 8772)
QUERY = """subscription($after: String) { events(after: $after) {
  __typename ... on Event { id cursor type accountId payload createdAt }
  ... on Error { code message } } }"""

Partner = tuple[uuid.UUID, str, list[uuid.UUID]]  # id, API key, accounts


async def prepare(server: str, name: str) -> list[Partner]:
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    conn = await db.connect(db.with_database(server, name))
    try:
        await migrate.apply_migrations(conn)
        partners = []
        for p in range(PARTNERS):
            partner = uuid.uuid4()
            accounts = [uuid.uuid4() for _ in range(ACCOUNTS_PER_PARTNER)]
            await conn.execute("insert into partners values ($1, $2)", partner, f"P{p}")
            await conn.executemany(
                "insert into accounts (id, name) values ($1, $2)", [(a, "A") for a in accounts]
            )
            await conn.executemany(
                "insert into partner_accounts values ($1, $2)", [(partner, a) for a in accounts]
            )
            issued = await apikeys.create_key(
                conn, name=f"bench {p}", role=Role.PARTNER, partner_id=partner
            )
            partners.append((partner, issued.secret, accounts))
    finally:
        await conn.close()
    return partners


class Subscriber:
    """One WebSocket subscriber; records when each event arrived, by event id."""

    def __init__(self, port: int, key: str, after: str, expected: int) -> None:
        self.port, self.key, self.after = port, key, after
        self.arrived: dict[int, float] = {}
        self.expected = expected  # events of the burst it should get
        self.ready = asyncio.Event()
        self.got_all = asyncio.Event()
        self.done = asyncio.Event()
        if expected == 0:
            self.got_all.set()

    async def run(self, connected: asyncio.Semaphore) -> None:
        url = f"ws://127.0.0.1:{self.port}/graphql"
        async with connected:
            ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
        async with ws:
            init = {"authorization": f"Bearer {self.key}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            payload = {"query": QUERY, "variables": {"after": self.after}}
            subscribe = {"id": "1", "type": "subscribe", "payload": payload}
            await ws.send(json.dumps(subscribe))
            async for frame in ws:
                now = time.time()
                member = json.loads(frame)["payload"]["data"]["events"]
                assert member["__typename"] == "Event", member
                kind = member["type"]
                if kind == "bench.tick":
                    self.arrived[int(member["id"])] = now
                    if len(self.arrived) == self.expected:
                        self.got_all.set()
                elif kind == "bench.ready":
                    self.ready.set()
                elif kind == "bench.done":
                    self.done.set()
                    return


def burst_plan(accounts: list[uuid.UUID]) -> list[uuid.UUID]:
    """The account of each event of the burst, the same in the run and the floor."""
    rng = random.Random(3)
    return [rng.choice(accounts) for _ in range(EVENTS)]


async def write_burst(dsn: str, plan: list[uuid.UUID]) -> dict[int, float]:
    """EVENTS events from WRITERS connections, one per transaction; commit times by id.
    Connections are opened first: connecting is CPU work in this process, which would
    otherwise delay the subscribers' reads at the start of the burst."""
    committed: dict[int, float] = {}
    connections = [await db.connect(dsn) for _ in range(WRITERS)]

    async def writer(w: int) -> None:
        conn = connections[w]
        for n in range(w, EVENTS, WRITERS):
            async with conn.transaction():
                event_id = await events.enqueue(conn, "bench.tick", plan[n], {"n": n})
            committed[event_id] = time.time()

    try:
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    finally:
        for conn in connections:
            await conn.close()
    return committed


async def listener_floor(dsn: str, accounts: list[uuid.UUID]) -> list[float]:
    """The same burst, timed from commit to the moment the service's own `OutboxListener`,
    running in this process with nothing to fan out, reads each event with the gap-free
    cursor: NOTIFY, plus the wait for older transactions that are still open."""
    seen: dict[int, float] = {}
    all_seen = asyncio.Event()

    async def on_events(new: events.NewEvents) -> None:
        now = time.time()
        seen.update((e.id, now) for e in new.events if e.type == "bench.tick")
        if len(seen) == EVENTS:
            all_seen.set()

    listener = OutboxListener(dsn, on_events)
    await listener.start()
    try:
        committed = await write_burst(dsn, burst_plan(accounts))
        await asyncio.wait_for(all_seen.wait(), 30)
    finally:
        await listener.stop()
    return [seen[event_id] - at for event_id, at in committed.items()]


async def broadcast(dsn: str, kind: str) -> None:
    conn = await db.connect(dsn)
    try:
        await events.enqueue(conn, kind, None, {})
    finally:
        await conn.close()


async def drive(
    dsn: str, partners: list[Partner], pids: list[int]
) -> tuple[list[float], float, int, float, float]:
    # Subscribers start from the tail before the warm-up event, so one that registers late
    # replays it; the burst starts once every subscriber is live.
    conn = await db.connect(dsn)
    after = (await events.tail_cursor(conn)).encode()
    await conn.close()
    owner = {a: p for p, _, accounts in partners for a in accounts}
    plan = burst_plan(list(owner))
    per_partner = Counter(owner[a] for a in plan)
    subscribers: list[tuple[Subscriber, uuid.UUID]] = []
    for n in range(SUBSCRIBERS):
        partner, key, _ = partners[n % len(partners)]
        subscribers.append((Subscriber(PORTS[n % 2], key, after, per_partner[partner]), partner))
    connected = asyncio.Semaphore(50)
    tasks = [asyncio.create_task(s.run(connected)) for s, _ in subscribers]
    await broadcast(dsn, "bench.ready")
    await _until_ready([s for s, _ in subscribers], tasks)
    # The measuring client's own collector pauses would count as delivery latency: its
    # thousand connections are built, so move them out of the collector's reach.
    gc.collect()
    gc.freeze()
    cpu_before = cpu_seconds(pids)
    committed = await write_burst(dsn, plan)
    await asyncio.wait_for(asyncio.gather(*(s.got_all.wait() for s, _ in subscribers)), 120)
    cpu = cpu_seconds(pids) - cpu_before
    await broadcast(dsn, "bench.done")
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    span = max(committed.values()) - min(committed.values())
    measured = _latencies(subscribers, committed, await _accounts_of(dsn, committed), owner)
    return (*measured, span, cpu)


async def _until_ready(subscribers: list[Subscriber], tasks: list[asyncio.Task[None]]) -> None:
    """Wait until every subscriber got the warm-up event; fail at once if one ends first."""
    ready = asyncio.ensure_future(asyncio.gather(*(s.ready.wait() for s in subscribers)))
    pending: set[asyncio.Future[Any]] = {ready, *tasks}
    async with asyncio.timeout(120):
        while not ready.done():
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {ready}:
                task.result()
                raise RuntimeError("a subscriber ended before the burst")


async def _accounts_of(dsn: str, committed: dict[int, float]) -> dict[int, uuid.UUID]:
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch(
            "select id, account_id from events where id = any($1)", list(committed)
        )
    finally:
        await conn.close()
    return {r["id"]: r["account_id"] for r in rows}


def _latencies(
    subscribers: list[tuple[Subscriber, uuid.UUID]],
    committed: dict[int, float],
    account_of: dict[int, uuid.UUID],
    owner: dict[uuid.UUID, uuid.UUID],
) -> tuple[list[float], float, int]:
    expected: dict[uuid.UUID, set[int]] = defaultdict(set)
    for event_id, account in account_of.items():
        expected[owner[account]].add(event_id)
    latencies, last = [], 0.0
    for subscriber, partner in subscribers:
        assert set(subscriber.arrived) == expected[partner], "a subscriber missed events"
        for event_id, arrived in subscriber.arrived.items():
            latencies.append(arrived - committed[event_id])
            last = max(last, arrived)
    return latencies, last - min(committed.values()), len(latencies)


def _summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"  {label + ':':10} p50 {q[49]:7.2f} ms  p99 {q[98]:7.2f} ms  max {ms[-1]:7.2f} ms"


async def _drop(server: str, name: str) -> None:
    admin: asyncpg.Connection = await db.connect(server)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    try:
        partners = asyncio.run(prepare(server, name))
        dsn = db.with_database(server, name)
        work = Path(tempfile.mkdtemp())
        services = [serve_benefitgate(dsn, port, work / str(port)) for port in PORTS]
        try:
            for port in PORTS:
                wait_until_up(port)
            pids = [service.pid for service in services]
            latencies, elapsed, deliveries, span, cpu = uvloop.run(drive(dsn, partners, pids))
        finally:
            for service in services:
                service.terminate()
                service.wait()
        floor = uvloop.run(
            listener_floor(dsn, [a for _, _, accounts in partners for a in accounts])
        )
    finally:
        asyncio.run(_drop(server, name))
    print(
        f"\nlive fan-out: {SUBSCRIBERS} subscribers on {len(PORTS)} processes, "
        f"{EVENTS} events from {WRITERS} writers (committed over {span * 1000:.0f} ms), "
        f"{deliveries} deliveries"
    )
    print(_summary("delivery", latencies))
    rate = deliveries / elapsed
    print(
        f"  {'':10} {rate:7.0f} deliveries/s ({elapsed:.2f} s from first commit to last delivery)"
    )
    print(f"  {'':10} {cpu * 1e6 / deliveries:7.0f} µs of service CPU per delivery")
    print(_summary("floor", floor) + "  (commit to read by a bare OutboxListener)")
    print("  target: p99 < 50 ms")


if __name__ == "__main__":
    main()
