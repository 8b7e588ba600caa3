import asyncio
from pathlib import Path

import asyncpg
import pytest

from benefitgate import db, migrate
from tests.fixtures.database import ServerDatabases

EXPECTED_TABLES = {
    "outcomes",
    "metrics",
    "benefits",
    "tiers",
    "tier_versions",
    "tier_outcomes",
    "tier_limits",
    "tier_benefits",
    "tier_exclusions",
    "accounts",
    "partners",
    "partner_accounts",
    "subscriptions",
    "grants",
    "usage_counters",
    "usage_daily",
    "api_keys",
    "events",
    "schema_migrations",
}


async def _fresh(databases: ServerDatabases) -> str:
    return await databases.create(f"bg_t_{databases.run_id}_mig_{len(databases.created)}")


async def test_migrations_create_the_expected_tables_and_record_checksums(
    databases: ServerDatabases,
) -> None:
    conn = await db.connect(await _fresh(databases))
    try:
        applied = await migrate.apply_migrations(conn)
        tables = {
            r["tablename"]
            for r in await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        }
        ledger = await conn.fetch(
            "select version, checksum from schema_migrations order by version"
        )
    finally:
        await conn.close()
    assert applied == [m.version for m in migrate.load_migrations()]
    assert tables >= EXPECTED_TABLES
    assert [r["checksum"] for r in ledger] == [m.checksum for m in migrate.load_migrations()]


async def test_concurrent_start_ups_apply_each_migration_once(databases: ServerDatabases) -> None:
    dsn = await _fresh(databases)
    conns = [await db.connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.apply_migrations(c) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, len(migrate.load_migrations())]
        assert await migrate.pending(conns[0]) == []
    finally:
        for c in conns:
            await c.close()


async def test_a_changed_applied_migration_is_refused(
    databases: ServerDatabases, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("create table t1 (id int);")
    conn = await db.connect(await _fresh(databases))
    try:
        assert await migrate.apply_migrations(conn, tmp_path) == [1]
        (tmp_path / "0001_first.sql").write_text("create table t1 (id bigint);")
        with pytest.raises(migrate.MigrationError, match="0001_first was changed"):
            await migrate.apply_migrations(conn, tmp_path)
        with pytest.raises(migrate.MigrationError):
            await migrate.pending(conn, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_applied(
    databases: ServerDatabases, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("create table t1 (id int);")
    (tmp_path / "0002_bad.sql").write_text("create table t2 (id int); select 1/0;")
    conn = await db.connect(await _fresh(databases))
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate.apply_migrations(conn, tmp_path)
        assert await conn.fetchval("select to_regclass('t1')") is None
        assert await migrate.pending(conn, tmp_path) == [1, 2]
    finally:
        await conn.close()
