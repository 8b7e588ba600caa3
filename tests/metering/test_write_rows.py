"""The write statement's rows and limits, sent as jsonb: every value, time and text reaches
the tables as the statement's float8, timestamptz and text parameters carried them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import asyncpg
import pytest

from benefitgate.metering import repository
from benefitgate.metering.models import MAX_EVENT_ID
from benefitgate.usage.periods import Period
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event

PERIOD = Period(datetime(2026, 11, 1, 0, 0, 0, 250, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
OPEN = Period(datetime(2026, 11, 1, tzinfo=UTC), None)
AT = NOW - timedelta(hours=1)


async def _account(conn: asyncpg.Connection) -> UUID:
    cat = await factories.catalog(conn)
    for key, aggregation in (("peak", "max"), ("gauge", "latest")):
        await conn.execute(
            "insert into metrics values ($1, $1, 'x', $2, 'calendar_month')", key, aggregation
        )
    await repository.ensure_partitions(conn, [date(2026, 11, 1)])
    return await factories.account(conn, cat["versions"]["pro"])


async def _as_float8_numeric(conn: asyncpg.Connection, value: float) -> Decimal:
    """What Postgres stores of `value` sent as a float8 parameter (binary, exact)."""
    stored: Decimal = await conn.fetchval("select $1::float8::numeric", value)
    return stored


async def test_values_reach_the_tables_as_the_floats_they_are(conn: asyncpg.Connection) -> None:
    a = await _account(conn)
    # Floats whose shortest text has 16 or 17 digits, the smallest subnormal and normal
    # floats, the bounds of a value, and a sum that numeric would add exactly but float8
    # does not (1e15 + 0.1 is 1000000000000000.125 as floats).
    values = [0.1 + 0.2, 1 / 3, 123456789.12345679, 5e-324, 2.2250738585072014e-308, -1e15]
    rows = repository.EventRows()
    for i, value in enumerate(values):
        rows.add(a, "peak", "s", f"v{i}", value, AT, PERIOD, "max")
    rows.add(a, "m0", "s", "big", 1e15, AT, PERIOD, "sum")
    rows.add(a, "m0", "s", "small", 0.1, AT, PERIOD, "sum")

    positions, counters, _ = await repository.record_events(conn, rows, NOW)

    assert positions == list(range(len(values) + 2))
    stored = dict(await conn.fetch("select event_id, value from usage_events"))
    for i, value in enumerate(values):
        assert stored[f"v{i}"] == await _as_float8_numeric(conn, value), value
    total = await conn.fetchval("select ($1::float8 + $2::float8)::numeric", 1e15, 0.1)
    assert await conn.fetchval("select value from usage_counters where metric_key = 'm0'") == total
    peak = await _as_float8_numeric(conn, max(values))
    assert sorted((c[1], c[3]) for c in counters) == [("m0", float(total)), ("peak", float(peak))]


async def test_a_limit_is_compared_as_the_float_it_is(conn: asyncpg.Connection) -> None:
    a = await _account(conn)
    rows = repository.EventRows()
    rows.add(a, "m0", "s", "e", 0.3, AT, PERIOD, "sum")
    rows.add(a, "m1", "s", "e", 0.3, AT, PERIOD, "sum")
    # 0.3 reaches 100 % of a limit of 0.3, not of one of 0.30000000000000004 (the next
    # float up): text of 15 digits would make both 0.3.
    limits = [(a, "m0", 0.30000000000000004), (a, "m1", 0.3)]

    _, _, crossings = await repository.record_events(conn, rows, NOW, limits)

    assert sorted((c[1], c[3]) for c in crossings) == [("m0", 80), ("m1", 80), ("m1", 100)]


async def test_times_keep_their_instant_and_microseconds_whatever_their_offset(
    conn: asyncpg.Connection,
) -> None:
    a = await _account(conn)
    # An offset with seconds, as a DateTime variable may give (JSON's text of a time has
    # none: the time goes in UTC).
    east = timezone(timedelta(hours=5, minutes=30, seconds=15))
    west = timezone(timedelta(hours=-8))
    earlier = AT.replace(microsecond=123456)
    later = earlier + timedelta(microseconds=1)
    rows = repository.EventRows()
    # The later reading's local time (west of UTC) is the earlier text: the instant decides.
    rows.add(a, "gauge", "s", "later", 2.0, later.astimezone(west), OPEN, "latest")
    rows.add(a, "gauge", "s", "earlier", 1.0, earlier.astimezone(east), OPEN, "latest")
    rows.add(a, "m0", "s", "e", 1.0, earlier, PERIOD, "sum")

    _, counters, _ = await repository.record_events(conn, rows, NOW)

    stored = dict(await conn.fetch("select event_id, occurred_at from usage_events"))
    assert stored == {"later": later, "earlier": earlier, "e": earlier}
    found = {
        r["metric_key"]: tuple(r)[1:]
        for r in await conn.fetch(
            "select metric_key, period_start, period_end, value, last_event_at from usage_counters"
        )
    }
    assert found == {
        "gauge": (OPEN.start, None, 2, later),
        "m0": (PERIOD.start, PERIOD.end, 1, earlier),
    }
    assert {c[2] for c in counters} == {OPEN.start, PERIOD.start}


@pytest.mark.parametrize(
    "text",
    [
        'a "quoted" \\ backslash',
        "\\u0000 as six characters",
        "tab\t, newline\n, \x01 and \x1f",
        "é, 𝄞 and \u2028",
        "null",
        "x" * MAX_EVENT_ID,
    ],
)
async def test_text_is_stored_as_given(conn: asyncpg.Connection, text: str) -> None:
    a = await _account(conn)
    rows = repository.EventRows()
    rows.add(a, "m0", text, text, 1.0, AT, PERIOD, "sum")
    rows.add(a, "m1", "s", "u", 1.0, AT, PERIOD, "unique_count", text)

    positions, _, _ = await repository.record_events(conn, rows, NOW)

    assert positions == [0, 1]
    assert await conn.fetchval("select source from usage_events where event_id = $1", text) == text
    assert await conn.fetchval("select value from usage_unique_values") == text


async def test_a_nul_in_text_fails_the_statement_and_writes_nothing(
    conn: asyncpg.Connection,
) -> None:
    a = await _account(conn)
    rows = repository.EventRows()
    rows.add(a, "m0", "s", "fine", 1.0, AT, PERIOD, "sum")
    rows.add(a, "m0", "s", "nul\x00", 1.0, AT, PERIOD, "sum")

    with pytest.raises(asyncpg.PostgresError):
        await repository.record_events(conn, rows, NOW)

    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


async def test_a_grouped_event_at_an_offset_with_seconds_keeps_its_instant(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('calls', 'Calls', 'calls', 'sum', 'billing_period',"
        " '{region}')"
    )
    a = await factories.account(conn, cat["versions"]["pro"])
    at = (AT - timedelta(microseconds=5)).astimezone(timezone(timedelta(hours=-3, seconds=-7)))
    sent = {**event(a, "e1", 2.5, metric="calls"), "occurredAt": at.isoformat()}
    sent["properties"] = {"region": "eu"}

    answer = await api.data(RECORD, {"events": [sent]}, auth=await api_key(conn))

    assert answer["usageRecord"]["accepted"] == 1, answer
    assert await conn.fetchval("select occurred_at from usage_events") == at
    group = await conn.fetchrow("select value, last_event_at from usage_group_counters")
    assert tuple(group) == (2.5, at)
    assert await conn.fetchval("select last_event_at from usage_counters") == at
