"""Housekeeping: partitions ahead of time and dropped past the retention; ids, keys and the
values of unique counts' closed periods forgotten after the dedup horizon, which follows
the backfill window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from benefitgate.metering.maintenance import maintain
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.rules import Window
from tests.fixtures import factories
from tests.fixtures.factories import NOW


async def _received(conn: asyncpg.Connection, ages: dict[str, timedelta], now: datetime) -> None:
    """An event id and an idempotency key received `age` before `now`, for each name."""
    for name, age in ages.items():
        await conn.execute(
            "insert into usage_event_ids values (gen_random_uuid(), $1, $2)", name, now - age
        )
        await conn.execute(
            "insert into idempotency_keys values ('scope', $1, 'op', '\\x00', '{}', $2)",
            name,
            now - age,
        )


async def _kept(conn: asyncpg.Connection) -> tuple[list[str], list[str]]:
    ids = await conn.fetchval("select array_agg(event_id order by event_id) from usage_event_ids")
    keys = await conn.fetchval("select array_agg(key order by key) from idempotency_keys")
    return ids, keys


async def test_maintenance_creates_next_months_partition_and_prunes_old_ids_and_keys(
    conn: asyncpg.Connection,
) -> None:
    later = NOW + timedelta(days=31)
    horizon = Window().horizon  # 35 days, 5 minutes and a day
    hour = timedelta(hours=1)
    await _received(conn, {"old": horizon + hour, "kept": horizon - hour}, later)
    await maintain(conn, Partitions(), later)
    assert await conn.fetchval("select to_regclass('usage_events_2027_01')") is not None
    assert await _kept(conn) == (["kept"], ["kept"])


async def test_a_longer_backfill_window_keeps_ids_as_long_as_events_can_be_backdated(
    conn: asyncpg.Connection,
) -> None:
    window = Window.of_days(90, 0)
    assert window.horizon == timedelta(days=91, minutes=5)
    ages = {
        "day-40": timedelta(days=40),
        "day-90": timedelta(days=90),
        "day-92": timedelta(days=92),
    }
    await _received(conn, ages, NOW)
    await maintain(conn, Partitions(window), NOW)
    assert await _kept(conn) == (["day-40", "day-90"], ["day-40", "day-90"])
    # The window's months exist ahead of any event: 90 days back from 15 November.
    for month in ("2026_08", "2026_09", "2026_12"):
        assert await conn.fetchval(f"select to_regclass('usage_events_{month}')") is not None


async def test_retention_drops_whole_months_past_it_and_nothing_the_window_needs(
    conn: asyncpg.Connection,
) -> None:
    window = Window.of_days(35, 60)  # raw events kept 60 days: from 16 September
    old = Window.of_days(35, 0)
    await Partitions(old).ensure(
        conn, [datetime(2026, m, 1, tzinfo=UTC).date() for m in (7, 8, 9, 10, 11)]
    )
    await conn.execute(
        """insert into usage_events values
           (gen_random_uuid(), 'm0', 'a', 1, '2026-08-31T23:00Z', '2026-09-01Z', '2026-08-01Z'),
           (gen_random_uuid(), 'm0', 'b', 1, '2026-09-01T00:00Z', '2026-09-01Z', '2026-09-01Z')"""
    )
    partitions = Partitions(window)
    await maintain(conn, partitions, NOW)
    names = await conn.fetchval(
        """select array_agg(c.relname::text order by c.relname) from pg_inherits i
           join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_events'::regclass"""
    )
    # July and August end before 16 September; September holds days still kept.
    assert names == [f"usage_events_2026_{m}" for m in ("09", "10", "11", "12")]
    assert await conn.fetchval("select array_agg(event_id) from usage_events") == ["b"]
    await maintain(conn, partitions, NOW)  # again: nothing more to drop
    assert await conn.fetchval("select count(*) from usage_events") == 1


async def test_unique_values_of_periods_no_event_can_reach_are_forgotten(
    conn: asyncpg.Connection,
) -> None:
    periods = {  # (period start, end): one past the horizon, one inside it, one that never ends
        "closed": (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
        "open": (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),
        "never": (datetime(1970, 1, 1, tzinfo=UTC), None),
    }
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    for name, (start, end) in periods.items():
        await conn.execute(
            """insert into usage_counters (account_id, metric_key, period_start, period_end,
                                           value) values ($1, 'm0', $2, $3, 1)""",
            account_id,
            start,
            end,
        )
        await conn.execute(
            "insert into usage_unique_values values ($1, 'm0', $2, $3)", account_id, start, name
        )
    await maintain(conn, Partitions(), NOW)  # the horizon: 10 October
    assert await conn.fetchval(
        "select array_agg(value order by value) from usage_unique_values"
    ) == [
        "never",
        "open",
    ]


def test_retention_must_cover_the_backfill_window() -> None:
    with pytest.raises(ValueError, match="must cover the backfill window"):
        Window.of_days(90, 91)
    with pytest.raises(ValueError, match="cannot be negative"):
        Window.of_days(-1, 0)
    assert Window.of_days(90, 92).retention == timedelta(days=92)
