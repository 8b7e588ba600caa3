"""usageRecord end to end: outcomes, deduplication, periods, aggregations, thresholds."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from benefitgate import db
from benefitgate.auth.principals import Principal, Role
from benefitgate.catalog.repository import load_catalog
from benefitgate.clock import FixedClock
from benefitgate.metering import ingest
from benefitgate.metering.models import UsageEvent
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.rules import Window
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event, record_directly

ADMIN = Principal(Role.ADMIN, subject="test-admin")


async def counter(
    conn: asyncpg.Connection, account_id: UUID, metric: str = "m0"
) -> dict[Any, float]:
    rows = await conn.fetch(
        "select period_start, value from usage_counters where account_id = $1 and metric_key = $2",
        account_id,
        metric,
    )
    return {r["period_start"]: float(r["value"]) for r in rows}


async def test_every_event_gets_an_outcome_and_each_rejection_reason_is_reachable(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    reseller = await factories.partner(conn)
    mine = await factories.account(conn, cat["versions"]["basic"], partner_id=reseller)
    other = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn, Role.PARTNER, partner_id=reseller)
    events = [
        event(mine, "ok"),
        event(mine, "ok"),  # the same id twice in one batch
        event(uuid4(), "who"),
        event("not-a-uuid", "bad-id"),
        event(mine, "what", metric="nope"),
        event(mine, "neg", value=-1),
        event(mine, "huge", value=1e308),  # two of them summed overflowed the counter
        event(mine, "huge-too", value=1e308),
        event(mine, "noise", value=0.1 + 0.2 - 0.3),  # a float's rounding: about 0, counted
        event(mine, "old", at=NOW - timedelta(days=36)),
        event(mine, "future", at=NOW + timedelta(minutes=6)),
        event(other, "theirs"),
    ]
    result = (await api.data(RECORD, {"events": events}, auth=key))["usageRecord"]
    outcomes = [(r["eventId"], r["status"], r["reason"]) for r in result["results"]]
    assert outcomes == [
        ("ok", "ACCEPTED", None),
        ("ok", "DUPLICATE", None),
        ("who", "REJECTED", "UNKNOWN_ACCOUNT"),
        ("bad-id", "REJECTED", "UNKNOWN_ACCOUNT"),
        ("what", "REJECTED", "UNKNOWN_METRIC"),
        ("neg", "REJECTED", "NEGATIVE_VALUE"),
        ("huge", "REJECTED", "VALUE_OUT_OF_RANGE"),
        ("huge-too", "REJECTED", "VALUE_OUT_OF_RANGE"),
        ("noise", "ACCEPTED", None),
        ("old", "REJECTED", "OUTSIDE_WINDOW"),
        ("future", "REJECTED", "OUTSIDE_WINDOW"),
        ("theirs", "REJECTED", "UNKNOWN_ACCOUNT"),  # as missing: existence is never told
    ]
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 1, 9)
    assert await counter(conn, mine) == {NOW - timedelta(days=10): 1.0 + (0.1 + 0.2 - 0.3)}
    assert await counter(conn, other) == {}


async def test_more_than_a_thousand_events_is_one_error_and_nothing_is_written(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    events = [event(account_id, f"e{i}") for i in range(1001)]
    result = (await api.data(RECORD, {"events": events}, auth=await api_key(conn)))["usageRecord"]
    assert result["__typename"] == "InvalidInputError"
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


async def test_frontends_cannot_record_usage(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    result = await api.data(
        RECORD, {"events": [event(account_id, "x")]}, auth=frontend_token(account_id)
    )
    assert result["usageRecord"]["code"] == "FORBIDDEN"


async def test_a_retry_a_month_later_still_counts_once(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    first = event(account_id, "late", value=5, at=NOW - timedelta(hours=1))
    assert (await api.data(RECORD, {"events": [first]}, auth=key))["usageRecord"]["accepted"] == 1
    clock.advance(timedelta(days=30))  # the event is still inside the 35-day window
    retry = (await api.data(RECORD, {"events": [first]}, auth=key))["usageRecord"]
    assert retry["results"][0]["status"] == "DUPLICATE"
    assert await counter(conn, account_id) == {NOW - timedelta(days=10): 5.0}


async def test_backdated_events_land_in_the_period_they_belong_to(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('monthly', 'Monthly', 'calls', 'sum', 'calendar_month')"
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    events = [
        event(account_id, "now", 1),
        event(account_id, "before-period", 2, at=NOW - timedelta(days=12)),
        event(account_id, "month-ago", 4, at=NOW - timedelta(days=20), metric="monthly"),
        event(account_id, "this-month", 8, at=NOW - timedelta(days=2), metric="monthly"),
    ]
    await api.data(RECORD, {"events": events}, auth=await api_key(conn))
    billing_start = NOW - timedelta(days=10)
    previous_start = datetime(2026, 10, 5, 12, tzinfo=NOW.tzinfo)
    assert await counter(conn, account_id) == {billing_start: 1.0, previous_start: 2.0}
    assert await counter(conn, account_id, "monthly") == {
        datetime(2026, 10, 1, tzinfo=NOW.tzinfo): 4.0,
        datetime(2026, 11, 1, tzinfo=NOW.tzinfo): 8.0,
    }
    days = await conn.fetch(
        "select day, value from usage_daily where account_id = $1 order by day", account_id
    )
    assert [(str(r["day"]), float(r["value"])) for r in days] == [
        ("2026-10-26", 4.0),
        ("2026-11-03", 2.0),
        ("2026-11-13", 8.0),
        ("2026-11-15", 1.0),
    ]
    partitions = await conn.fetchval(
        "select count(*) from pg_inherits where inhparent = 'usage_events'::regclass"
    )
    assert partitions >= 2
    assert await conn.fetchval("select count(*) from usage_events_2026_10") == 1


async def test_events_alternating_between_periods_each_land_in_their_own(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A batch finds an account's period once and reuses it while it holds the event
    (`ingest._PeriodsOf`): events going back and forth across a renewal and a month's
    end must each still find their own period."""
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('monthly', 'Monthly', 'calls', 'sum', 'calendar_month')"
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    ago = NOW - timedelta(days=12)  # before the billing period's start, 10 days back
    october = NOW - timedelta(days=20)
    events = [
        event(account_id, "a", 1),
        event(account_id, "b", 2, at=ago),
        event(account_id, "c", 4),
        event(account_id, "d", 8, at=ago),
        event(account_id, "e", 16, at=october, metric="monthly"),
        event(account_id, "f", 32, metric="monthly"),
        event(account_id, "g", 64, at=october, metric="monthly"),
    ]
    result = (await api.data(RECORD, {"events": events}, auth=await api_key(conn)))["usageRecord"]
    assert result["accepted"] == 7
    previous_start = datetime(2026, 10, 5, 12, tzinfo=NOW.tzinfo)
    assert await counter(conn, account_id) == {NOW - timedelta(days=10): 5.0, previous_start: 10.0}
    assert await counter(conn, account_id, "monthly") == {
        datetime(2026, 10, 1, tzinfo=NOW.tzinfo): 80.0,
        datetime(2026, 11, 1, tzinfo=NOW.tzinfo): 32.0,
    }


async def test_aggregations_fold_as_their_names_say(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    for key, aggregation in [("peak", "max"), ("gauge", "latest"), ("hits", "count")]:
        await conn.execute(
            "insert into metrics values ($1, $1, 'x', $2, 'calendar_month')", key, aggregation
        )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    at = NOW - timedelta(hours=5)
    first = [
        event(account_id, "p1", 7, metric="peak"),
        event(account_id, "p2", 3, metric="peak"),
        event(account_id, "g-new", -2, metric="gauge", at=at + timedelta(hours=2)),
        event(account_id, "g-old", 9, metric="gauge", at=at),
        event(account_id, "h1", 50, metric="hits"),
    ]
    await api.data(RECORD, {"events": first}, auth=key)
    later = [
        event(account_id, "g-older", 11, metric="gauge", at=at - timedelta(hours=1)),
        event(account_id, "h2", 50, metric="hits"),
        event(account_id, "p3", 5, metric="peak"),
    ]
    await api.data(RECORD, {"events": later}, auth=key)
    month = datetime(2026, 11, 1, tzinfo=NOW.tzinfo)
    assert await counter(conn, account_id, "peak") == {month: 7.0}
    assert await counter(conn, account_id, "gauge") == {month: -2.0}
    assert await counter(conn, account_id, "hits") == {month: 2.0}


async def test_of_gauge_readings_at_one_time_the_greater_event_id_is_the_latest(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    await conn.execute("insert into metrics values ('gauge', 'g', 'x', 'latest', 'never')")
    account_id = await factories.account(conn, cat["versions"]["basic"])
    at = NOW - timedelta(hours=1)
    tied = [
        event(account_id, "g-b", 4, metric="gauge", at=at),
        event(account_id, "g-a", 8, metric="gauge", at=at),
    ]
    await api.data(RECORD, {"events": tied}, auth=await api_key(conn))
    assert list((await counter(conn, account_id, "gauge")).values()) == [4.0]


def _events(account_id: UUID, n: int, prefix: str = "e") -> list[UsageEvent]:
    return [
        UsageEvent(f"{prefix}{i}", account_id, "m0", 1.0, NOW - timedelta(minutes=i))
        for i in range(n)
    ]


async def test_concurrent_identical_batches_count_once(conn: asyncpg.Connection, dsn: str) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    batch = _events(account_id, 200)
    results = await asyncio.gather(*(record_directly(dsn, batch, NOW) for _ in range(8)))
    accepted = sum(o.status.value == "accepted" for outcomes in results for o in outcomes)
    assert accepted == 200
    assert await counter(conn, account_id) == {NOW - timedelta(days=10): 200.0}


async def test_a_batch_retried_after_a_dropped_connection_counts_once(
    conn: asyncpg.Connection, dsn: str
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    batch = _events(account_id, 50)
    catalog = await load_catalog(conn)

    # Dropped before commit: nothing counted, and the retry counts everything once.
    doomed = await db.connect(dsn)
    await Partitions().ensure(doomed, ingest.months_of(batch, NOW, Window()))
    transaction = doomed.transaction()
    await transaction.start()
    await ingest.record_usage(doomed, ADMIN, batch, catalog, NOW, Window())
    await conn.execute("select pg_terminate_backend($1)", doomed.get_server_pid())
    assert await counter(conn, account_id) == {}
    await record_directly(dsn, batch, NOW)
    # Dropped after commit, before the client saw the answer: the retry is all duplicates.
    retry = await record_directly(dsn, batch, NOW)
    assert {o.status.value for o in retry} == {"duplicate"}
    assert await counter(conn, account_id) == {NOW - timedelta(days=10): 50.0}
    doomed.terminate()


async def test_crossing_80_and_100_percent_writes_one_event_each_once(
    conn: asyncpg.Connection, dsn: str
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # hard limit 100
    batches = [_events(account_id, 30, prefix=f"b{b}-") for b in range(5)]
    await asyncio.gather(*(record_directly(dsn, batch, NOW) for batch in batches))
    rows = await conn.fetch(
        "select payload from events where type = 'usage.threshold_crossed' and account_id = $1",
        account_id,
    )
    assert sorted(r["payload"]["threshold"] for r in rows) == [80, 100]
    assert {r["payload"]["metric"] for r in rows} == {"m0"}
    assert await counter(conn, account_id) == {NOW - timedelta(days=10): 150.0}


def test_partition_months_are_utc_months_of_events_inside_the_window() -> None:
    account_id = uuid4()
    plus_two = timezone(timedelta(hours=2))
    events = [
        UsageEvent(
            "utc-october", account_id, "m0", 1.0, datetime(2026, 11, 1, 0, 30, tzinfo=plus_two)
        ),
        UsageEvent("far-future", account_id, "m0", 1.0, NOW + timedelta(days=400)),
        UsageEvent("long-ago", account_id, "m0", 1.0, NOW - timedelta(days=4000)),
    ]
    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert ingest.months_of(events, now, Window()) == [date(2026, 10, 1)]


async def test_a_timestamp_without_an_offset_is_refused_as_a_variable_error(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    for bad in ["2026-11-15T11:00:00", "yesterday", 1731668400]:
        naive = {**event(account_id, "e1"), "occurredAt": bad}
        response = await api.post(RECORD, {"events": [naive]}, auth=key)
        assert response.status_code == 200
        (error,) = response.json()["errors"]
        assert error["message"].startswith("Variable '$events' has invalid value"), error
        assert "DateTime" in error["message"]
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


async def test_event_ids_past_the_bound_or_empty_are_rejected_and_the_batch_lands(
    conn: asyncpg.Connection, api: Api
) -> None:
    # An id of 3,000 characters failed the whole batch at the unique index's entry size
    # ("Unexpected error."), and an empty one was accepted.
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    longest = "é" * 255  # 510 bytes: the bound is in characters, well inside an index entry
    events = [
        event(account_id, "x" * 3_000),
        event(account_id, "x" * 256),
        event(account_id, ""),
        event(account_id, longest),
        event(account_id, "plain"),
    ]
    result = (await api.data(RECORD, {"events": events}, auth=await api_key(conn)))["usageRecord"]

    assert [(r["status"], r["reason"]) for r in result["results"]] == [
        ("REJECTED", "INVALID_EVENT_ID"),
        ("REJECTED", "INVALID_EVENT_ID"),
        ("REJECTED", "INVALID_EVENT_ID"),
        ("ACCEPTED", None),
        ("ACCEPTED", None),
    ]
    stored = await conn.fetch("select event_id from usage_event_ids order by event_id")
    assert [r["event_id"] for r in stored] == ["plain", longest]


async def _marks(conn: asyncpg.Connection, account_id: UUID) -> int:
    count: int = await conn.fetchval(
        "select count(*) from suggestion_marks where account_id = $1", account_id
    )
    return count


async def test_the_batch_that_turns_the_run_rate_into_an_overrun_marks_the_account_once(
    conn: asyncpg.Connection, dsn: str
) -> None:
    """10 days into a 30-day period with a limit of 100, a run rate reaches the limit from
    34 used on. The account is evidence for a suggestion from the batch that gets there;
    every batch after it marked it again, and the suggestion job recomputed it each time."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # hard limit 100
    await record_directly(dsn, _events(account_id, 30, "a"), NOW)
    assert await _marks(conn, account_id) == 0
    await record_directly(dsn, _events(account_id, 10, "b"), NOW)
    assert await _marks(conn, account_id) == 1
    await record_directly(dsn, _events(account_id, 10, "c"), NOW)
    assert await _marks(conn, account_id) == 1

    # Of concurrent batches, only the one whose write crosses marks it.
    other = await factories.account(conn, cat["versions"]["basic"])
    await record_directly(dsn, _events(other, 30, "a"), NOW)
    await asyncio.gather(
        *(record_directly(dsn, _events(other, 2, f"c{n}-"), NOW) for n in range(8))
    )
    assert await counter(conn, other) == {NOW - timedelta(days=10): 46.0}
    assert await _marks(conn, other) == 1
