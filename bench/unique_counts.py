"""Benchmark: unique counts at size, exact and at what cost against a sum.

On a fresh database, `BENCH_EVENTS` events (200,000) over `BENCH_USERS` distinct users
(100,000) and 10 accounts, this month, with 5 % of event ids sent twice, are written by
the service's write statement (`metering.repository.record_events`) in batches of 1,000
on 4 connections at once: once as a `unique_count` metric of the user, once as a `sum`
metric (the floor), alternating rounds. It checks that every account's unique count
equals the distinct users Python counted, and prints events/s of each, their ratio, and
the rows and bytes the distinct values take.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/unique_counts.py
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from benefitgate import db, migrate
from benefitgate.metering import repository
from benefitgate.usage.periods import Period

sys.path.insert(0, str(Path(__file__).resolve().parent))
from account_view import server_dsn
from scratch import scratch_database

EVENTS = int(os.environ.get("BENCH_EVENTS", "200000"))
USERS = int(os.environ.get("BENCH_USERS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = 4
BATCH_SIZE = 1000
ACCOUNTS = 10
DUPLICATE_SHARE = 0.05
NOW = datetime.now(UTC).replace(microsecond=0)
START = datetime(NOW.year, NOW.month, 1, tzinfo=UTC)

# One event: account, event id, user, when.
Event = tuple[uuid.UUID, str, str, datetime]


async def prepare(server: str, name: str) -> tuple[str, list[uuid.UUID]]:
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    dsn = db.with_database(server, name)
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn)
        accounts = [uuid.uuid4() for _ in range(ACCOUNTS)]
        await conn.copy_records_to_table(
            "accounts", records=[(a, f"a{i}") for i, a in enumerate(accounts)],
            columns=["id", "name"],
        )  # fmt: skip
        await repository.ensure_partitions(conn, [START.date()])
    finally:
        await conn.close()
    return dsn, accounts


def events(accounts: list[uuid.UUID], seed: int) -> tuple[list[Event], dict[uuid.UUID, int]]:
    """The events, 5 % of them sent again later under the same id, and the distinct users
    each account should count."""
    rng = random.Random(seed)
    elapsed = max(int((NOW - START).total_seconds()), 1)
    distinct = [
        (
            rng.choice(accounts),
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            f"user-{rng.randrange(USERS)}",
            START + timedelta(seconds=rng.randrange(elapsed)),
        )
        for _ in range(EVENTS)
    ]
    again = rng.sample(distinct, int(EVENTS * DUPLICATE_SHARE))
    sent = distinct + again
    rng.shuffle(sent)
    users: dict[uuid.UUID, set[str]] = defaultdict(set)
    for account, _, user, _ in distinct:
        users[account].add(user)
    return sent, {a: len(u) for a, u in users.items()}


def batches(sent: list[Event], metric: str, aggregation: str) -> list[repository.EventRows]:
    period = Period(START, None)
    made = []
    for i in range(0, len(sent), BATCH_SIZE):
        rows = repository.EventRows()
        # One id may appear once per batch, as ingest ensures.
        chunk = {(e[0], e[1]): e for e in sent[i : i + BATCH_SIZE]}.values()
        for account, event_id, user, at in chunk:
            unique = user if aggregation == "unique_count" else None
            # Each metric's events under ids of their own: ids are deduplicated per account.
            own_id = f"{metric}-{event_id}"
            rows.add(account, metric, "bench", own_id, 1.0, at, period, aggregation, unique)
        made.append(rows)
    return made


async def write(dsn: str, made: list[repository.EventRows]) -> float:
    """Write the batches on CONNECTIONS connections at once; returns the seconds."""
    queue = list(reversed(made))
    writers = [await db.connect(dsn) for _ in range(CONNECTIONS)]

    async def drain(conn: asyncpg.Connection) -> None:
        while queue:
            rows = queue.pop()
            async with conn.transaction():
                await repository.record_events(conn, rows, NOW)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(drain(conn) for conn in writers))
        return time.perf_counter() - started
    finally:
        for conn in writers:
            await conn.close()


async def main() -> None:
    server, embedded = server_dsn()
    name = scratch_database(server, embedded, "bg_bench_unique")
    dsn, accounts = await prepare(server, name)
    conn = await db.connect(dsn)
    try:
        print(
            f"{EVENTS:,} events (+{DUPLICATE_SHARE:.0%} resent) over {USERS:,} users and "
            f"{ACCOUNTS} accounts, batches of {BATCH_SIZE:,} on {CONNECTIONS} connections; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(f"{'round':>6} {'metric':>13} {'events/s':>9} {'ratio':>6} {'exact':>6}")
        for r in range(ROUNDS):
            sent, expected = events(accounts, r)
            rates = {}
            for aggregation in ("sum", "unique_count"):
                metric = f"{aggregation}_{r}"
                await conn.execute(
                    """insert into metrics (key, name, unit, aggregation, reset, unique_property)
                       values ($1, $1, 'x', $2, 'calendar_month', $3)""",
                    metric,
                    aggregation,
                    "user" if aggregation == "unique_count" else None,
                )
                seconds = await write(dsn, batches(sent, metric, aggregation))
                rates[aggregation] = len(sent) / seconds
                exact = ""
                if aggregation == "unique_count":
                    rows = await conn.fetch(
                        "select account_id, value from usage_counters where metric_key = $1",
                        metric,
                    )
                    counted = {row["account_id"]: int(row["value"]) for row in rows}
                    exact = "yes" if counted == expected else f"NO {counted} != {expected}"
                print(
                    f"{r:>6} {aggregation:>13} {rates[aggregation]:>9,.0f} "
                    f"{rates[aggregation] / rates['sum']:>6.3f} {exact:>6}",
                    flush=True,
                )
        values = await conn.fetchval("select count(*) from usage_unique_values")
        days = await conn.fetchval("select count(*) from usage_unique_days")
        size = await conn.fetchval(
            """select pg_total_relation_size('usage_unique_values')
                      + pg_total_relation_size('usage_unique_days')"""
        )
        print(
            f"distinct values kept: {values:,} per period, {days:,} per day; "
            f"{size / 2**20:.1f} MiB, {size / (values + days):.0f} bytes a row"
        )
    finally:
        await conn.close()
        admin = await db.connect(server)
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
