"""Benchmark: `benefitgate import` of 100,000 accounts and their subscriptions from CSV.

On a fresh database with the demo catalog, writes the two files, runs `benefitgate import
accounts` and `benefitgate import subscriptions` as a vendor would (each a process, end
to end: parse, check, write with audit entries and events), and in the same run the floor:
the same rows loaded with COPY into plain tables of the same columns. Prints rows per
second and the ratio (target: at least a third of the floor).

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


async def main() -> None:
    server, embedded = server_dsn()
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = await db.connect(server)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    dsn = db.with_database(server, name)
    try:
        conn = await db.connect(dsn)
        try:
            await migrate.apply_migrations(conn)
            await seed_demo(conn, accounts=1, seed=1, now=datetime.now(UTC))
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
            print(f"import of {ROWS:,} accounts and their subscriptions")
            a = timed_import(dsn, "accounts", accounts)
            s = timed_import(dsn, "subscriptions", subs)
        f = await floor(dsn, versions)
        total = 2 * ROWS
        print(f"  accounts:      {ROWS / a:10,.0f} rows/s ({a:.1f} s)")
        print(f"  subscriptions: {ROWS / s:10,.0f} rows/s ({s:.1f} s)")
        print(
            f"  import:        {total / (a + s):10,.0f} rows/s, both files, process start included"
        )
        print(f"  floor (COPY):  {total / f:10,.0f} rows/s ({f:.1f} s)")
        print(f"  ratio import/floor: {(total / (a + s)) / (total / f):.3f}  (target >= 0.333)")
    finally:
        admin = await db.connect(server)
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
