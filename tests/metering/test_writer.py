"""Group commit of ingest (`metering.writer`): batches ready together are written in one
transaction, each keeping exactly its own outcomes; a duplicate across them counts once;
one batch's failure fails it alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest

from benefitgate.auth.principals import Principal, Role
from benefitgate.catalog.repository import load_catalog
from benefitgate.metering import ingest
from benefitgate.metering.models import EventOutcome, UsageEvent
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.writer import IngestWriter, Prepared
from tests.fixtures import factories
from tests.fixtures.factories import NOW

ADMIN = Principal(Role.ADMIN, subject="test-admin")
AT = NOW - timedelta(hours=1)


def usage(account: UUID, event_id: str, value: float = 1, metric: str = "m0") -> UsageEvent:
    return UsageEvent(event_id, account, metric, value, AT, source="svc")


def results(outcomes: list[EventOutcome]) -> list[tuple[str, str, str | None]]:
    return [
        (o.event.event_id, o.status.name, o.reason.name if o.reason else None) for o in outcomes
    ]


@pytest.fixture
def writer(pool: asyncpg.Pool) -> IngestWriter:
    return IngestWriter(pool, Partitions())


async def _prepare(
    writer: IngestWriter, conn: asyncpg.Connection, *batches: list[UsageEvent]
) -> list[Prepared]:
    catalog = await load_catalog(conn)
    return [await writer.prepare(conn, ADMIN, b, catalog, NOW) for b in batches]


async def _counter(conn: asyncpg.Connection, account: UUID) -> float:
    value = await conn.fetchval(
        "select sum(value) from usage_counters where account_id = $1 and metric_key = 'm0'",
        account,
    )
    return float(value or 0)


async def _transactions(conn: asyncpg.Connection) -> int:
    """How many transactions wrote the stored event ids (rows of one share its xmin)."""
    return int(await conn.fetchval("select count(distinct xmin::text) from usage_event_ids"))


async def test_batches_ready_together_are_written_in_one_transaction_with_their_own_outcomes(
    conn: asyncpg.Connection, writer: IngestWriter
) -> None:
    cat = await factories.catalog(conn)
    a, b = [await factories.account(conn, cat["versions"]["pro"]) for _ in range(2)]
    [stored_before] = await _prepare(writer, conn, [usage(a, "old")])
    await writer.record(stored_before)
    first = [usage(a, "a1"), usage(a, "a1"), usage(b, "a2", 2), usage(a, "x", metric="nope")]
    second = [usage(b, "b1", 3), usage(a, "old"), usage(b, "b2", -1)]
    third = [usage(a, "c1", 4)]
    prepared = await _prepare(writer, conn, first, second, third)

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    assert [results(o) for o in answers] == [
        [
            ("a1", "ACCEPTED", None),
            ("a1", "DUPLICATE", None),
            ("a2", "ACCEPTED", None),
            ("x", "REJECTED", "UNKNOWN_METRIC"),
        ],
        [
            ("b1", "ACCEPTED", None),
            ("old", "DUPLICATE", None),
            ("b2", "REJECTED", "NEGATIVE_VALUE"),
        ],
        [("c1", "ACCEPTED", None)],
    ]
    assert (await _counter(conn, a), await _counter(conn, b)) == (6.0, 5.0)
    assert await _transactions(conn) == 2  # the first batch alone, then the three together


async def test_an_event_in_two_batches_written_together_counts_once(
    conn: asyncpg.Connection, writer: IngestWriter
) -> None:
    cat = await factories.catalog(conn)
    a = await factories.account(conn, cat["versions"]["pro"])
    prepared = await _prepare(
        writer,
        conn,
        [usage(a, "shared", 5), usage(a, "mine")],
        [usage(a, "theirs"), usage(a, "shared", 5)],
        [usage(a, "shared", 5)],
    )

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    assert [results(o) for o in answers] == [
        [("shared", "ACCEPTED", None), ("mine", "ACCEPTED", None)],
        [("theirs", "ACCEPTED", None), ("shared", "DUPLICATE", None)],
        [("shared", "DUPLICATE", None)],
    ]
    assert await _counter(conn, a) == 7.0
    assert await conn.fetchval("select count(*) from usage_event_ids") == 3
    assert await _transactions(conn) == 1


async def test_a_batch_refused_whole_does_not_fail_the_batches_beside_it(
    conn: asyncpg.Connection, pool: asyncpg.Pool, writer: IngestWriter
) -> None:
    cat = await factories.catalog(conn)
    a = await factories.account(conn, cat["versions"]["pro"])
    catalog = await load_catalog(conn)
    too_many = [usage(a, f"e{i}") for i in range(ingest.MAX_BATCH + 1)]

    async def send(events: list[UsageEvent]) -> list[EventOutcome]:
        async with pool.acquire() as own:
            batch = await writer.prepare(own, ADMIN, events, catalog, NOW)
        return await writer.record(batch)

    answers = await asyncio.gather(
        send([usage(a, "one")]), send(too_many), send([usage(a, "two")]), return_exceptions=True
    )

    assert isinstance(answers[1], ingest.BatchTooLarge)
    assert [results(o) for o in (answers[0], answers[2])] == [  # type: ignore[arg-type]
        [("one", "ACCEPTED", None)],
        [("two", "ACCEPTED", None)],
    ]
    assert await _counter(conn, a) == 2.0


async def test_a_batch_the_database_refuses_fails_alone_and_the_rest_of_its_group_is_written(
    conn: asyncpg.Connection, writer: IngestWriter
) -> None:
    cat = await factories.catalog(conn)
    a = await factories.account(conn, cat["versions"]["pro"])
    good, bad, also_good = await _prepare(
        writer, conn, [usage(a, "g1")], [usage(a, "b1", 2)], [usage(a, "g2", 4)]
    )
    row = bad.rows.rows[0]
    bad.rows.rows[0] = (*row[:2], "nul\x00", *row[3:])  # text jsonb cannot hold, past every rule

    answers = await asyncio.gather(
        *(writer.record(p) for p in (good, bad, also_good)), return_exceptions=True
    )

    assert isinstance(answers[1], asyncpg.PostgresError)
    assert results(answers[0]) == [("g1", "ACCEPTED", None)]  # type: ignore[arg-type]
    assert results(answers[2]) == [("g2", "ACCEPTED", None)]  # type: ignore[arg-type]
    assert await _counter(conn, a) == 5.0


async def test_a_group_takes_the_waiting_batches_up_to_its_bound_of_events(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    a = await factories.account(conn, cat["versions"]["pro"])
    writer = IngestWriter(pool, Partitions(), writers=1, group_events=3)
    sizes = (2, 1, 2, 3, 1)
    prepared = await _prepare(
        writer, conn, *([usage(a, f"{n}-{i}") for i in range(size)] for n, size in enumerate(sizes))
    )

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    assert [len(o) for o in answers] == list(sizes)
    assert await _counter(conn, a) == 9.0
    # 2 + 1 events, then 2 + 1 (the batch of 3 would pass the bound: it waits), then 3
    assert await _transactions(conn) == 3
