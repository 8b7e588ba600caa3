"""Benchmark: `benefitgate import` of 100,000 accounts and their subscriptions from CSV.

On a fresh database with the demo catalog, writes the two files, runs `benefitgate import
accounts` and `benefitgate import subscriptions` as a vendor would (each a process, end
to end: parse, check, write with audit entries and events), and in the same run:

- the ceiling: on a second fresh database, the writes the import's guarantees require
  and nothing else: the same rows COPYed into a staging table, then per batch of the
  import's size and in a transaction each, one INSERT ... SELECT of the accounts (or
  subscriptions) with ON CONFLICT DO NOTHING, their audit entries and their events, as
  set-based SQL with no Python between the statements;
- the floor: the same rows loaded with COPY into plain temporary tables of the same
  columns (no index, no constraint, no WAL).

Prints rows per second and the ratios (target: at least a third of the floor).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/import_csv.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from benefitgate import db, migrate
from benefitgate.demo.seed import seed_demo
from benefitgate.importing.runner import BATCH
from scratch import scratch_database

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))


def server_dsn() -> tuple[str, db.EmbeddedPostgres | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    embedded = db.EmbeddedPostgres(Path(".data/bench").resolve())
    return embedded.start(), embedded


def timed_import(dsn: str, kind: str, path: Path) -> float:
    command = Path(sys.executable).parent / "benefitgate"
    started = time.perf_counter()
    done = subprocess.run(
        [str(command), "import", kind, str(path)],
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr[:2000])
    print(f"  {done.stdout.strip()}")
    return elapsed


async def floor(dsn: str, tiers: list[int]) -> float:
    """COPY the same rows into plain tables: the cost of the writes alone."""
    conn = await db.connect(dsn)
    try:
        await conn.execute(
            """create temp table accounts_floor (id uuid, external_id text, name text,
                   metadata text, created_at timestamptz);
               create temp table subscriptions_floor (id uuid, account_id uuid,
                   tier_version_id bigint, term text, seats int, status text,
                   period_start timestamptz, period_end timestamptz)"""
        )
        now = datetime.now(UTC)
        ids = [uuid.uuid4() for _ in range(ROWS)]
        accounts = [(i, f"cus_{n}", f"Customer {n}", "{}", now) for n, i in enumerate(ids)]
        subs = [
            (uuid.uuid4(), i, tiers[n % len(tiers)], "monthly", 5, "active", now, now)
            for n, i in enumerate(ids)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table("accounts_floor", records=accounts)
        await conn.copy_records_to_table("subscriptions_floor", records=subs)
        return time.perf_counter() - started
    finally:
        await conn.close()


_CEILING_ACCOUNTS = """
with made as (
    insert into accounts (id, external_id, name, metadata, created_at)
    select gen_random_uuid(), external_id, name, '{}', $1 from staged_accounts
    where n >= $2 and n < $3 order by external_id
    on conflict (external_id) do nothing
    returning id, external_id, name, metadata),
entries as (
    insert into audit_log (at, actor, action, target_kind, target_id, account_id, after, reason)
    select $1, 'bench', 'account.created', 'account', id::text, id,
           jsonb_build_object('externalId', external_id, 'name', name, 'metadata', metadata),
           'bench'
    from made
    returning id, account_id, after)
insert into events (type, account_id, payload)
select 'account.created', account_id, after || jsonb_build_object('version', 1, 'auditEntryId', id)
from entries
"""

_CEILING_SUBSCRIPTIONS = """
with made as (
    insert into subscriptions (id, account_id, tier_version_id, term, seats, status,
        current_period_start, current_period_end, renewal_date, started_at, trial_converts)
    select gen_random_uuid(), a.id, s.tier_version_id, 'monthly', 5, 'active', $1::timestamptz,
           $1 + interval '1 month', ($1 + interval '1 month')::date, $1, true
    from staged_subscriptions s join accounts a on a.external_id = s.external_id
    where s.n >= $2 and s.n < $3 order by a.id
    on conflict (account_id) do nothing
    returning *),
entries as (
    insert into audit_log (at, actor, action, target_kind, target_id, account_id, after, reason)
    select $1, 'bench', 'subscription.created', 'subscription', id::text, account_id,
           to_jsonb(made), 'bench'
    from made
    returning id, account_id, after)
insert into events (type, account_id, payload)
select 'subscription.changed', account_id, jsonb_build_object(
    'action', 'subscription.created', 'auditEntryId', id, 'subscription', after)
from entries
"""


async def ceiling(dsn: str, tiers: list[int]) -> tuple[float, float]:
    """The writes alone, as set-based SQL: seconds for the accounts, for the subscriptions."""
    conn = await db.connect(dsn)
    try:
        await conn.execute(
            """create temp table staged_accounts (n int, external_id text, name text);
               create temp table staged_subscriptions (n int, external_id text,
                   tier_version_id bigint)"""
        )
        now = datetime.now(UTC)
        timings = []
        for table, rows, statement in (
            ("staged_accounts", [(n, f"cus_{n}", f"Customer {n}") for n in range(ROWS)],
             _CEILING_ACCOUNTS),
            ("staged_subscriptions", [(n, f"cus_{n}", tiers[n % len(tiers)]) for n in range(ROWS)],
             _CEILING_SUBSCRIPTIONS),
        ):  # fmt: skip
            started = time.perf_counter()
            await conn.copy_records_to_table(table, records=rows)
            await conn.execute(f"create index on {table} (n); analyze {table}")
            for first in range(0, ROWS, BATCH):
                async with conn.transaction():
                    await conn.execute(statement, now, first, first + BATCH)
            timings.append(time.perf_counter() - started)
        return timings[0], timings[1]
    finally:
        await conn.close()


async def fresh_database(
    server: str, made: list[str], embedded: db.EmbeddedPostgres | None = None
) -> str:
    """A new database (its name added to `made`), migrated, with the demo catalog and one
    demo account; dropped at exit, then `embedded` stopped."""
    name = scratch_database(server, embedded, "bench_import")
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    made.append(name)
    dsn = db.with_database(server, name)
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn)
        await seed_demo(conn, accounts=1, seed=1, now=datetime.now(UTC))
    finally:
        await conn.close()
    return dsn


async def main() -> None:
    server, embedded = server_dsn()
    made: list[str] = []
    try:
        dsn = await fresh_database(server, made, embedded)
        conn = await db.connect(dsn)
        try:
            tiers = [r["key"] for r in await conn.fetch("select key from tiers order by rank")]
            versions = [r["id"] for r in await conn.fetch("select id from tier_versions")]
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory() as work:
            accounts, subs = Path(work) / "accounts.csv", Path(work) / "subscriptions.csv"
            accounts.write_text(
                "external_id,name\n" + "".join(f"cus_{n},Customer {n}\n" for n in range(ROWS))
            )
            subs.write_text(
                "external_id,tier,term,seats\n"
                + "".join(f"cus_{n},{tiers[n % len(tiers)]},monthly,5\n" for n in range(ROWS))
            )
            print(f"import of {ROWS:,} accounts and their subscriptions, {BATCH:,} a transaction")
            a = timed_import(dsn, "accounts", accounts)
            s = timed_import(dsn, "subscriptions", subs)
        second = await fresh_database(server, made)
        ca, cs = await ceiling(second, versions)
        f = await floor(dsn, versions)
        total = 2 * ROWS
        rate, top, bottom = total / (a + s), total / (ca + cs), total / f
        print(f"  accounts:      {ROWS / a:10,.0f} rows/s ({a:.1f} s; ceiling {ROWS / ca:,.0f})")
        print(f"  subscriptions: {ROWS / s:10,.0f} rows/s ({s:.1f} s; ceiling {ROWS / cs:,.0f})")
        print(f"  import:        {rate:10,.0f} rows/s, both files, process start included")
        print(f"  ceiling (SQL): {top:10,.0f} rows/s ({ca + cs:.1f} s), the writes alone")
        print(f"  floor (COPY):  {bottom:10,.0f} rows/s ({f:.1f} s)")
        print(f"  ratio import/floor:   {rate / bottom:.3f}  (target >= 0.333)")
        print(f"  ratio import/ceiling: {rate / top:.3f}")
        print(f"  ratio ceiling/floor:  {top / bottom:.3f}")
    finally:
        admin = await db.connect(server)
        for name in made:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
