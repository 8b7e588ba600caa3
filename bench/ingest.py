"""Benchmark: sustained usage ingest on one service process, through `POST /events`
(CloudEvents) and through `usageRecord` (GraphQL), against the write statement's ceiling.

Seeds 10,000 demo accounts into a fresh database and lets the scheduler settle their
suggestions. Then, for each way in, on its own fresh copy of that database, starts
`benefitgate serve` (one worker, uvloop) and posts the same batches of 1,000 events over
random accounts with 5 % duplicates, from a few concurrent clients: events/s, p50 and p99
per batch, CPU per event. In the same run it measures the ceiling (the service's write
statement alone, replayed for the same batches on copies of the database as the service
found it, with no service in between) and the floor (a raw COPY of the same rows into a
plain table), and prints each way's ratio to the ceiling.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ingest.py
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benefitgate import db
from benefitgate.accounts import service as accounts
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.repository import load_catalog
from benefitgate.entitlements.limits import limits_by_account
from benefitgate.metering import recorded, repository
from benefitgate.metering.repository import Limit
from benefitgate.reports import service as reports

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import (
    cpu_by_pid,
    postgres_pids,
    prepare,
    serve_benefitgate,
    server_dsn,
    suggestions_computed,
    wait_until_up,
)
from scratch import scratch_database

BATCHES = int(os.environ.get("BENCH_BATCHES", "200"))
# Which ways in to measure, in this order: `events` (POST /events), `graphql` (usageRecord).
# Each run starts from its own copy of the same database; alternating repeats show how much
# the machine's other load moved the figures.
# A way may name other source code for the service after an `@` (`events@../main/src`): the
# code before a change, measured in the same run as the code after it.
WAYS = os.environ.get("BENCH_WAYS", "events,graphql,events,graphql").split(",")
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BATCH_SIZE = 1000
# The write statement alone is run on each of these numbers of connections, each taking
# whole batches: concurrent batches share counters and wait for each other's row locks (8
# was never the best) ...
ALONE_CONNECTIONS = (1, 2, 4)
# ... and in each of these numbers of lanes, a connection each, a lane writing the part of
# every batch whose accounts are its own (account id modulo lanes), as the service's
# writer does (`metering.writer`): no two connections write the same rows.
ALONE_LANES = (2,)
DUPLICATE_SHARE = 0.05


def _free_port() -> int:
    """A port nothing listens on now: a fixed one was taken by another benchmark on a
    shared machine, whose answers were then measured instead of the service's."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = int(os.environ.get("BENCH_PORT", "0")) or _free_port()
MUTATION = """mutation Record($events: [UsageEventInput!]!) {
  usageRecord(events: $events) { ... on UsageRecorded { accepted duplicates rejected } } }"""


def make_batches(ids: list[str], now: datetime) -> list[list[dict[str, object]]]:
    """Batches of fresh events, each with 5 % of ids already sent in an earlier batch."""
    rng = random.Random(1)
    sent: list[dict[str, object]] = []
    batches = []
    for b in range(BATCHES):
        fresh = int(BATCH_SIZE * (1 - DUPLICATE_SHARE)) if sent else BATCH_SIZE
        batch = [
            {
                "eventId": f"b{b}-{i}",
                "accountId": rng.choice(ids),
                "metric": "api_calls",
                "value": 1.0,
                "occurredAt": (now - timedelta(seconds=rng.randint(0, 86_400))).isoformat(),
            }
            for i in range(fresh)
        ]
        batch += rng.sample(sent, BATCH_SIZE - fresh)
        sent.extend(batch[:50])
        batches.append(batch)
    return batches


def graphql_body(batch: list[dict[str, object]]) -> bytes:
    return json.dumps({"query": MUTATION, "variables": {"events": batch}}).encode()


def cloudevents_body(batch: list[dict[str, object]]) -> bytes:
    """The same events as a CloudEvents batch: one source, so a repeated id is a duplicate."""
    return json.dumps(
        [
            {
                "specversion": "1.0",
                "id": e["eventId"],
                "source": "bench",
                "type": e["metric"],
                "subject": e["accountId"],
                "time": e["occurredAt"],
                "data": {"value": e["value"]},
            }
            for e in batch
        ]
    ).encode()


@dataclass(frozen=True)
class Way:
    """A way in: where to post, as what, and how to read the number of rejected events."""

    path: str
    content_type: str
    body: Callable[[list[dict[str, object]]], bytes]
    rejected: Callable[[dict[str, Any]], int]


WAY = {
    "events": Way(
        "/events", "application/cloudevents-batch+json", cloudevents_body, lambda r: r["rejected"]
    ),
    "graphql": Way(
        "/graphql",
        "application/json",
        graphql_body,
        lambda r: r["data"]["usageRecord"]["rejected"],
    ),
}


async def drive(
    key: str, way: Way, batches: list[list[dict[str, object]]]
) -> tuple[float, list[float]]:
    # Bodies are encoded up front: the client shares the machine, and its JSON encoding is
    # not the service's work.
    queue = [way.body(batch) for batch in reversed(batches)]
    latencies: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{PORT}",
            timeout=60,
            headers={"authorization": f"Bearer {key}", "content-type": way.content_type},
        ) as http:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                response = await http.post(way.path, content=body)
                latencies.append(time.perf_counter() - started)
                result = response.json()
                assert way.rejected(result) == 0, result

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - started, latencies


async def sample_backends(dsn: str, stop: asyncio.Event) -> tuple[Counter[str], Counter[str]]:
    """What the service's backends do, sampled every 20 ms until `stop`: on the CPU
    (`active`), waiting for a lock, named by what it waits for (`lock (transactionid)`:
    another transaction's row lock, held until that one ends), or `idle in transaction`:
    holding their locks while the service works between two statements.
    Also which statements the `active` samples ran (`statement_of`): where Postgres's
    work for the service goes."""
    conn = await db.connect(dsn)
    seen: Counter[str] = Counter()
    statements: Counter[str] = Counter()
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                """select state, wait_event_type, wait_event, query
                   from pg_stat_activity
                   where datname = current_database() and pid <> pg_backend_pid()
                     and backend_type = 'client backend' and state <> 'idle'"""
            )
            for r in rows:
                waits = r["wait_event_type"] == "Lock"
                state = f"lock ({r['wait_event']})" if waits else r["state"]
                seen[state] += 1
                if state == "active":
                    statements[statement_of(r["query"])] += 1
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return seen, statements


# What a statement of the service is, by a phrase only it holds, first match wins.
_STATEMENTS = (
    ("insert into usage_event_ids", "the write"),
    ("from accounts a left join subscriptions", "the accounts"),
    ("from grants", "the grants"),
    ("visible as", "the listener's read of the outbox"),
    ("from event_consumers", "a job's cursor"),
    ("partner_accounts where partner_id", "a job's read of the outbox"),
    ("horizon as", "another read of the outbox"),
    ("milestone", "the milestones"),
    ("commit", "COMMIT"),
    ("begin", "BEGIN"),
)


def statement_of(query: str) -> str:
    text = " ".join(query.lower().split())
    for phrase, name in _STATEMENTS:
        if phrase in text:
            return name
    return text[:60]


async def drive_sampled(
    dsn: str, key: str, way: Way, batches: list[list[dict[str, object]]]
) -> tuple[float, list[float], tuple[Counter[str], Counter[str]]]:
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_backends(dsn, stop))
    elapsed, latencies = await drive(key, way, batches)
    stop.set()
    return elapsed, latencies, await sampler


async def copy_floor(dsn: str, batches: list[list[dict[str, object]]]) -> float:
    conn = await db.connect(dsn)
    try:
        await conn.execute(
            "create table floor_events (account_id uuid, metric_key text, event_id text,"
            " value numeric, occurred_at timestamptz)"
        )
        rows = [
            [
                (
                    uuid.UUID(str(e["accountId"])),
                    "api_calls",
                    str(e["eventId"]),
                    1.0,
                    datetime.fromisoformat(str(e["occurredAt"])),
                )
                for e in batch
            ]
            for batch in batches
        ]
        started = time.perf_counter()
        for batch in rows:
            await conn.copy_records_to_table("floor_events", records=batch)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def write_statement_alone(
    dsn: str,
    batches: list[list[dict[str, object]]],
    connections: int,
    reports: bool = True,
    lanes: bool = False,
) -> tuple[float, float]:
    """Replay the service's write statement for the same batches, under fresh event ids, on
    `connections` connections, with no service in between: what Postgres alone can take of
    this ingest on this machine. Returns the seconds it took and Postgres's CPU seconds.
    `reports`: with the usage.recorded events and notifications the statement writes for
    the service (without them: the statement as earlier ceilings measured it). `lanes`:
    each connection writes its lane's part of every batch, else whole batches in turn."""
    conn = await db.connect(dsn)
    try:
        catalog = await load_catalog(conn)
        known = await accounts.accounts_by_ids(
            conn, list({uuid.UUID(str(e["accountId"])) for batch in batches for e in batch})
        )
        # The limits the service passes, for the statement to record threshold crossings.
        limits = await limits_by_account(
            conn, list(known.values()), catalog, datetime.now(UTC), only={"api_calls"}
        )
    finally:
        await conn.close()
    metric = catalog.metrics["api_calls"]

    def statement(events: list[dict[str, object]]) -> tuple[repository.EventRows, list[Limit]]:
        written = repository.EventRows()
        for e in events:
            account = known[uuid.UUID(str(e["accountId"]))]
            at = datetime.fromisoformat(str(e["occurredAt"]))
            period = account.period_at(metric.reset, at)
            event_id = f"alone{connections}-{e['eventId']}"
            written.add(account.id, metric.key, "bench", event_id, 1.0, at, period, "sum")
        involved = {uuid.UUID(str(e["accountId"])) for e in events}
        finite = [
            (a, metric.key, limit.included)
            for a in involved
            if (limit := limits[a].get(metric.key)) is not None
            and limit.included is not None
            and limit.included > 0
        ]
        return written, finite

    def lane(e: dict[str, object]) -> int:
        return uuid.UUID(str(e["accountId"])).int % connections

    if lanes:  # a queue for each connection: its lane's part of each batch
        queues = [
            [statement([e for e in batch if lane(e) == n]) for batch in reversed(batches)]
            for n in range(connections)
        ]
    else:  # one queue (the same list) all connections take from
        queues = [[statement(batch) for batch in reversed(batches)]] * connections
    report = recorded.REPORT if reports else None
    writers = [await db.connect(dsn) for _ in range(connections)]

    async def write(
        conn: asyncpg.Connection, queue: list[tuple[repository.EventRows, list[Limit]]]
    ) -> None:
        while queue:
            written, finite = queue.pop()
            async with conn.transaction():
                await repository.record_events(conn, written, datetime.now(UTC), finite, report)

    try:
        cpu_before = cpu_by_pid(postgres_pids())  # the writers' backends are up by now
        started = time.perf_counter()
        await asyncio.gather(*(write(conn, q) for conn, q in zip(writers, queues, strict=True)))
        elapsed = time.perf_counter() - started
        return elapsed, sum(_spent(cpu_before, cpu_by_pid(postgres_pids())).values())
    finally:
        for conn in writers:
            await conn.close()


async def copy_database(server: str, name: str, copy: str) -> str:
    """A fresh copy of database `name`, as `copy`; returns its DSN."""
    admin = await db.connect(server)
    try:
        for _ in range(50):  # a stopped service's connections may take a moment to go
            try:
                await admin.execute(f'create database "{copy}" template "{name}"')
                break
            except asyncpg.ObjectInUseError:
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return db.with_database(server, copy)


async def drop_database(server: str, name: str) -> None:
    admin = await db.connect(server)
    try:
        await admin.execute(f'drop database "{name}" with (force)')
    finally:
        await admin.close()


async def alone_on_a_copy(
    server: str,
    name: str,
    batches: list[list[dict[str, object]]],
    connections: int,
    reports: bool = True,
    lanes: bool = False,
) -> tuple[float, float]:
    """`write_statement_alone` on a fresh copy of database `name`, so that each number of
    connections starts from the same tables."""
    copy = f"{name}_alone{connections}{'_lanes' if lanes else ''}"
    dsn = await copy_database(server, name, copy)
    try:
        return await write_statement_alone(dsn, batches, connections, reports, lanes)
    finally:
        await drop_database(server, copy)


def _spent(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds of each process between two readings; a process that started in between
    counts whole. One that ended in between is left out, so Postgres figures are lower
    bounds."""
    return {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}


def machine_cpu() -> tuple[float, float]:
    """The machine's busy and total CPU seconds so far, over all its cores (/proc/stat):
    how much of the two cores a run left idle, whoever used the rest."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


@dataclass(frozen=True)
class Ceiling:
    """The write statement alone: seconds and Postgres's CPU seconds, by how it was
    replayed ("2 connections", "2 lanes")."""

    replays: dict[str, tuple[float, float]]

    def rate(self, events: int) -> float:
        """Events a second on the best number of connections."""
        return events / min(seconds for seconds, _ in self.replays.values())


@dataclass
class Run:
    elapsed: float
    latencies: list[float]
    service_cpu: float
    postgres_cpu: float
    client_cpu: float  # this benchmark's own process: the clients and the sampler
    machine_busy: float  # of all the machine's CPU time during the run
    side_effects: str
    backends: Counter[str]
    statements: Counter[str]


def _started(service: subprocess.Popen[bytes]) -> None:
    """Wait for `service` to answer on PORT, and make sure it is the one answering."""
    wait_until_up(PORT)
    if service.poll() is not None:
        raise RuntimeError(f"the service exited ({service.returncode}): is port {PORT} taken?")


def _profile(pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling `pid` into BENCH_PYSPY/<name>.txt (collapsed stacks), when that
    folder is set: where the service's CPU goes. Sampling costs the service little, but
    compare figures of runs without it."""
    folder = os.environ.get("BENCH_PYSPY")
    if not folder:
        return None
    py_spy = Path(sys.executable).parent / "py-spy"
    output = Path(folder) / f"{name}.txt"
    args = [str(py_spy), "record", "--pid", str(pid), "--format", "raw", "--nonblocking"]
    args += ["--rate", "250", "--output", str(output)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_way(
    server: str, name: str, copy: str, key: str, way: str, batches: list[list[dict[str, object]]]
) -> Run:
    """The service on `copy`, a fresh copy of the settled database `name`, driven through
    `way`."""
    dsn = asyncio.run(copy_database(server, name, copy))
    before = asyncio.run(side_effects(dsn))
    way, _, source = way.partition("@")
    env = {"PYTHONPATH": str(Path(source).resolve())} if source else None
    service = serve_benefitgate(dsn, PORT, Path(tempfile.mkdtemp()), env)
    try:
        _started(service)
        profiler = _profile(service.pid, copy)
        cpu_before = cpu_by_pid([service.pid, *postgres_pids()])
        client_before, machine_before = time.process_time(), machine_cpu()
        elapsed, latencies, (backends, statements) = asyncio.run(
            drive_sampled(dsn, key, WAY[way], batches)
        )
        cpu = _spent(cpu_before, cpu_by_pid([service.pid, *postgres_pids()]))
        client_cpu = time.process_time() - client_before
        busy, total = (
            after - before for after, before in zip(machine_cpu(), machine_before, strict=True)
        )
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            profiler.wait()
    finally:
        service.terminate()
        service.wait()
    service_cpu = cpu.pop(service.pid)
    after = asyncio.run(side_effects(dsn))
    written = ", ".join(f"{k} {after[k] - before[k]}" for k in after)
    postgres_cpu = sum(cpu.values())
    return Run(
        elapsed,
        latencies,
        service_cpu,
        postgres_cpu,
        client_cpu,
        busy / total,
        written,
        backends,
        statements,
    )


async def side_effects(dsn: str) -> dict[str, int]:
    """Rows a run writes besides events and counters, in the ingest transactions or after
    them (the suggestion job of the scheduler)."""
    conn = await db.connect(dsn)
    try:
        row = await conn.fetchrow(
            """select (select count(*) from usage_thresholds) as thresholds,
                      (select count(*) from suggestion_marks) as marks_left,
                      (select count(*) from suggestions) as suggestions,
                      (select count(*) from events) as outbox,
                      (select count(*) from achievements) as achievements"""
        )
    finally:
        await conn.close()
    assert row is not None
    return dict(row.items())


async def reports_made(dsn: str) -> None:
    """Make the impact reports the seeded accounts are owed, as the scheduler's job would
    (its defaults; exactly once whoever stores a report first): the job's one-off catch-up
    took 13 % of the service's CPU samples in a run it was left to."""
    started = time.perf_counter()
    pool = await db.create_pool(dsn)
    try:
        async with pool.acquire() as conn:
            catalog = await load_catalog(conn)

        async def snapshot() -> Catalog:
            return catalog

        # The service's defaults (config.Settings), which the benchmark leaves as they are.
        made = await reports.generate_due(pool, snapshot, 3, 4, datetime.now(UTC))
    finally:
        await pool.close()
    took = time.perf_counter() - started
    print(f"{made} impact reports of the seeded accounts made in {took:.0f} s")


def settle(dsn: str) -> None:
    """Let a service's scheduler compute the seeded accounts' suggestions once, so that
    each run starts from a copy with nothing left to backfill."""
    service = serve_benefitgate(dsn, PORT, Path(tempfile.mkdtemp()))
    try:
        _started(service)
        asyncio.run(suggestions_computed(dsn))
        asyncio.run(reports_made(dsn))
    finally:
        service.terminate()
        service.wait()


def cpu_bound(run: Run, events: int) -> float:
    """The events a second the run's CPU per event (service, Postgres and this benchmark's
    clients, which share the machine's cores) would allow with every core busy."""
    per_event = (run.service_cpu + run.postgres_cpu + run.client_cpu) / events
    return (os.cpu_count() or 1) / per_event


def p99(run: Run) -> float:
    return statistics.quantiles(run.latencies, n=100)[98]


def report(way: str, run: Run, events: int, ceiling: float) -> None:
    quantiles = statistics.quantiles(run.latencies, n=100)
    rate = events / run.elapsed
    service, postgres = (cpu * 1e6 / events for cpu in (run.service_cpu, run.postgres_cpu))
    print(
        f"  {way:8}\n           {rate:9.0f} events/s  batch p50 {quantiles[49] * 1000:6.1f} ms"
        f"  p99 {quantiles[98] * 1000:6.1f} ms  CPU per event: service {service:5.1f} µs,"
        f" Postgres {postgres:5.1f} µs  ratio to the ceiling {rate / ceiling:.3f}"
    )
    client = run.client_cpu * 1e6 / events
    print(
        f"           the machine's cores busy {run.machine_busy:.0%} of the run (anyone's work);"
        f" this benchmark's client {client:.1f} µs of CPU per event"
    )
    print(f"           rows written besides events and counters: {run.side_effects}")
    busy = sum(run.backends.values()) or 1
    shares = ", ".join(f"{k} {v / busy:.0%}" for k, v in run.backends.most_common())
    print(f"           service backends, of {busy} samples not idle: {shares}")
    active = sum(run.statements.values()) or 1
    ran = ", ".join(f"{k} {v / active:.0%}" for k, v in run.statements.most_common(8))
    print(f"           their active samples, by statement: {ran}")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def ceiling_after(server: str, name: str, batches: list[list[dict[str, object]]]) -> Ceiling:
    """The write statement alone on each of ALONE_CONNECTIONS and ALONE_LANES, each on a
    fresh copy of the settled database `name` (as every service run found it)."""
    whole = {
        f"{n} connections": asyncio.run(alone_on_a_copy(server, name, batches, n))
        for n in ALONE_CONNECTIONS
    }
    laned = {
        f"{n} lanes": asyncio.run(alone_on_a_copy(server, name, batches, n, lanes=True))
        for n in ALONE_LANES
    }
    return Ceiling(whole | laned)


def main() -> None:
    started_under = load()
    server, embedded = server_dsn()
    name = scratch_database(server, embedded)
    dsn, key, ids = asyncio.run(prepare(server, name))
    batches = make_batches(ids, datetime.now(UTC))
    settle(dsn)
    # Each service run is followed by the ceiling, measured again: the machine's speed
    # drifts within minutes, and the statement alone moved more from run to run than the
    # service did. Each run reads against the ceiling next to it and against the best one.
    runs: list[tuple[str, Run, Ceiling]] = []
    for i, way in enumerate(WAYS):
        copy = f"{name}_{i}"
        run = run_way(server, name, copy, key, way, batches)
        asyncio.run(drop_database(server, copy))
        runs.append((way, run, ceiling_after(server, name, batches)))
    # What the reports cost: the statement without them, on the settled database (ceilings
    # before 2026-12-06 16:00 measured it so, on the database as a run left it).
    bare = asyncio.run(alone_on_a_copy(server, name, batches, 4, reports=False))
    floor = asyncio.run(copy_floor(dsn, batches))
    events = BATCHES * BATCH_SIZE
    print(f"\nusage ingest, {BATCHES} batches of {BATCH_SIZE}, {CLIENTS} clients, 5 % duplicates")
    for i, (way, _, ceiling) in enumerate(runs, 1):
        for replay, (seconds, postgres_cpu) in ceiling.replays.items():
            print(
                f"  after run {i} ({way}): the write statement alone {events / seconds:9.0f}"
                f" events/s, Postgres CPU {postgres_cpu * 1e6 / events:5.1f} µs per event"
                f" ({replay}, no service)"
            )
    print(
        f"  write statement alone without its reports: {events / bare[0]:9.0f} events/s,"
        f" Postgres CPU {bare[1] * 1e6 / events:5.1f} µs per event (4 connections)"
    )
    best = max(ceiling.rate(events) for _, _, ceiling in runs)
    print(f"  ceiling: {best:9.0f} events/s  (the best of the write statement alone, all runs)")
    print(f"  floor:   {events / floor:9.0f} events/s  (COPY into a plain table)")
    for way, run, _ in runs:
        report(way, run, events, best)
    print(f"\nRESULT (target: POST /events at >= 0.8 of the ceiling, {best:.0f} events/s)")
    for i, (way, run, ceiling) in enumerate(runs, 1):
        rate = events / run.elapsed
        print(
            f"  run {i} {way:7} ratio to the ceiling {rate / best:.3f}"
            f" ({rate / ceiling.rate(events):.3f} of the one measured after it)"
            f"  ({rate:.0f} events/s, batch p99 {p99(run) * 1000:.0f} ms;"
            f" {rate * bare[0] / events:.3f} of the statement without its reports)"
        )
        bound = cpu_bound(run, events)
        print(
            f"         with every core busy, this run's CPU per event allows at most"
            f" {bound:.0f} events/s: {bound / best:.3f} of the ceiling"
        )
    print(f"  {started_under} at the start, {load()} at the end")
    asyncio.run(drop_database(server, name))


if __name__ == "__main__":
    main()
