"""Housekeeping: partitions ahead of time, and ids and keys forgotten after the window."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from benefitgate.metering.maintenance import KEEP, maintain
from benefitgate.metering.partitions import Partitions
from tests.fixtures.factories import NOW


async def test_maintenance_creates_next_months_partition_and_prunes_old_ids_and_keys(
    conn: asyncpg.Connection,
) -> None:
    later = NOW + timedelta(days=31)
    for age, event_id in [(KEEP + timedelta(hours=1), "old"), (KEEP - timedelta(hours=1), "kept")]:
        await conn.execute(
            "insert into usage_event_ids values (gen_random_uuid(), $1, $2)", event_id, later - age
        )
        await conn.execute(
            "insert into idempotency_keys values ('scope', $1, 'op', '\\x00', '{}', $2)",
            event_id,
            later - age,
        )
    await maintain(conn, Partitions(), later)
    assert await conn.fetchval("select to_regclass('usage_events_2027_01')") is not None
    assert await conn.fetchval("select array_agg(event_id) from usage_event_ids") == ["kept"]
    assert await conn.fetchval("select array_agg(key) from idempotency_keys") == ["kept"]
