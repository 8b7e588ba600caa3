"""The trials started before `subscription_trials` existed are read back from the audit
log when its migration runs, so a frontend cannot take a second trial of a tier an
operator gave it earlier."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg

from benefitgate import db, migrate
from tests.fixtures import factories
from tests.fixtures.database import ServerDatabases
from tests.fixtures.factories import NOW

MIGRATION = "0022_subscription_trials.sql"


async def _trial_started(
    conn: asyncpg.Connection, account_id: uuid.UUID, version_id: int, days: int
) -> None:
    await conn.execute(
        """insert into audit_log (at, actor, action, target_kind, target_id, account_id,
               before, after, reason)
           values ($1, 'key:1', 'subscription.trial_started', 'subscription', 'sub', $2,
                   '{}'::jsonb, $3, '')""",
        NOW - timedelta(days=days),
        account_id,
        {"tierVersionId": version_id},
    )


async def test_the_migration_reads_earlier_trials_back_from_the_audit_log(
    databases: ServerDatabases, tmp_path: Path
) -> None:
    for m in sorted(migrate.migrations_dir().glob("*.sql")):
        if m.name < MIGRATION:
            shutil.copy(m, tmp_path / m.name)
    dsn = await databases.create(f"bg_t_{databases.run_id}_trials_{len(databases.created)}")
    conn = await db.connect(dsn)
    try:
        await migrate.apply_migrations(conn, tmp_path)
        cat = await factories.catalog(conn)
        basic, pro = cat["versions"]["basic"], cat["versions"]["pro"]
        twice = await factories.account(conn, basic)
        other = await factories.account(conn, basic)
        await _trial_started(conn, twice, pro, days=40)
        await _trial_started(conn, twice, pro, days=5)  # an operator's second: one row
        await _trial_started(conn, other, basic, days=3)
        shutil.copy(migrate.migrations_dir() / MIGRATION, tmp_path / MIGRATION)
        assert await migrate.apply_migrations(conn, tmp_path) == [int(MIGRATION[:4])]
        rows = await conn.fetch(
            "select account_id, tier_key, started_at from subscription_trials order by started_at"
        )
        assert [(r["account_id"], r["tier_key"], r["started_at"]) for r in rows] == [
            (twice, "pro", NOW - timedelta(days=40)),
            (other, "basic", NOW - timedelta(days=3)),
        ]
    finally:
        await conn.close()
