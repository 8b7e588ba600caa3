"""The billing periods ended before `subscription_periods` existed are read back from the
audit log when its migration runs: each change that moved a period on recorded the one
before it, so a backdated event after the upgrade still counts in the period it was in."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from benefitgate import db, migrate
from tests.fixtures import factories
from tests.fixtures.database import ServerDatabases
from tests.fixtures.factories import NOW

MIGRATION = "0030_subscription_periods.sql"
CURRENT = NOW - timedelta(days=10)  # the factory's period: 5 November to 5 December


def _period(start: datetime, end: datetime, term: str) -> dict[str, Any]:
    return {"currentPeriodStart": start.isoformat(), "currentPeriodEnd": end.isoformat(),
            "term": term}  # fmt: skip


async def _entry(
    conn: asyncpg.Connection, account_id: uuid.UUID, before: dict[str, Any], after: dict[str, Any]
) -> None:
    await conn.execute(
        """insert into audit_log (at, actor, action, target_kind, target_id, account_id,
               before, after, reason)
           values ($1, 'scheduler', 'subscription.renewed', 'subscription', 'sub', $2, $3, $4,
                   '')""",
        datetime.fromisoformat(after["currentPeriodStart"]),
        account_id,
        before,
        after,
    )


async def test_the_migration_reads_the_ended_periods_back_from_the_audit_log(
    databases: ServerDatabases, tmp_path: Path
) -> None:
    for m in sorted(migrate.migrations_dir().glob("*.sql")):
        if m.name < MIGRATION:
            shutil.copy(m, tmp_path / m.name)
    dsn = await databases.create(f"bg_t_{databases.run_id}_periods_{len(databases.created)}")
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn, tmp_path)
        cat = await factories.catalog(conn)
        account_id = await factories.account(conn, cat["versions"]["pro"])
        annual = _period(CURRENT.replace(year=2025), CURRENT.replace(month=10), "annual")
        october = _period(CURRENT.replace(month=10), CURRENT, "monthly")
        current = _period(CURRENT, CURRENT.replace(month=12), "monthly")
        await _entry(conn, account_id, annual, october)
        await _entry(conn, account_id, october, current)
        await _entry(conn, account_id, current, current)  # a change within the period
        shutil.copy(migrate.migrations_dir() / MIGRATION, tmp_path / MIGRATION)
        assert await migrate.apply_migrations(conn, tmp_path) == [int(MIGRATION[:4])]
        rows = await conn.fetch(
            """select account_id, period_start, period_end, term from subscription_periods
               order by period_start"""
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        (account_id, CURRENT.replace(year=2025), CURRENT.replace(month=10), "annual"),
        (account_id, CURRENT.replace(month=10), CURRENT, "monthly"),
    ]
