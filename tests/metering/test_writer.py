"""Group commit of ingest (`metering.writer`): batches ready together are written in one
transaction per lane, each keeping exactly its own outcomes; a duplicate across them
counts once; one batch's failure fails it alone; a lane writes only its accounts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from benefitgate.auth.principals import Principal, Role
from benefitgate.catalog.repository import load_catalog
from benefitgate.metering import ingest
from benefitgate.metering.models import EventOutcome, UsageEvent
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.writer import IngestWriter, Prepared
from tests.conftest import eventually
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
    """One lane: these tests are about the groups; the lanes' tests make their own."""
    return IngestWriter(pool, Partitions(), lanes=1)


async def _accounts_in_lanes(conn: asyncpg.Connection, lanes: int) -> list[UUID]:
    """An account in each of `lanes` lanes, in lane order."""
    cat = await factories.catalog(conn)
    found: dict[int, UUID] = {}
    while len(found) < lanes:
        account = await factories.account(conn, cat["versions"]["pro"])
        found.setdefault(account.int % lanes, account)
    return [found[lane] for lane in range(lanes)]


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


def _counted(status: str, reason: str = "") -> float:
    """The events counted so far in the metrics with `status` and `reason`."""
    labels = {"status": status, "reason": reason}
    return REGISTRY.get_sample_value("benefitgate_usage_events_total", labels) or 0.0


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


async def test_a_writer_stopped_while_it_writes_a_failed_group_one_by_one_fails_every_batch_left(
    conn: asyncpg.Connection, pool: asyncpg.Pool, writer: IngestWriter
) -> None:
    cat = await factories.catalog(conn)
    a, b = [await factories.account(conn, cat["versions"]["pro"]) for _ in range(2)]
    [first] = await _prepare(writer, conn, [usage(b, "first")])
    await writer.record(first)  # b's counter row exists, to be locked below
    good, bad = await _prepare(writer, conn, [usage(b, "good")], [usage(a, "bad")])
    row = bad.rows.rows[0]
    bad.rows.rows[0] = (*row[:2], "nul\x00", *row[3:])  # fails the group's statement
    async with pool.acquire() as holder, holder.transaction():
        # b's counter locked: the good batch, written alone after the group failed, waits,
        # and the bad one waits behind it.
        await holder.execute("select 1 from usage_counters where account_id = $1 for update", b)
        answers = [asyncio.ensure_future(writer.record(p)) for p in (good, bad)]
        waiting = "select count(*) > 0 from pg_stat_activity where wait_event_type = 'Lock'"
        await eventually(conn, waiting, True)
        draining = writer._draining[0]  # the process stopping cancels the writer's task
        assert draining is not None
        draining.cancel()

        outcomes = await asyncio.wait_for(asyncio.gather(*answers, return_exceptions=True), 5)

    # Both fail as the writer stopped: neither is left waiting for good.
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError]


async def test_a_group_takes_the_waiting_batches_up_to_its_bound_of_events(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    a = await factories.account(conn, cat["versions"]["pro"])
    writer = IngestWriter(pool, Partitions(), lanes=1, group_events=3)
    sizes = (2, 1, 2, 3, 1)
    prepared = await _prepare(
        writer, conn, *([usage(a, f"{n}-{i}") for i in range(size)] for n, size in enumerate(sizes))
    )

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    assert [len(o) for o in answers] == list(sizes)
    assert await _counter(conn, a) == 9.0
    # 2 + 1 events, then 2 (the batch of 3 would pass the bound, and the one after it
    # may not go ahead of it), then 3, then 1
    assert await _transactions(conn) == 4


async def _transactions_of(conn: asyncpg.Connection, account: UUID) -> set[str]:
    rows = await conn.fetch(
        "select distinct xmin::text as x from usage_event_ids where account_id = $1", account
    )
    return {r["x"] for r in rows}


async def test_each_lane_writes_its_own_accounts_and_a_batch_keeps_its_order_across_them(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    a, b = await _accounts_in_lanes(conn, 2)
    writer = IngestWriter(pool, Partitions(), lanes=2)
    first = [usage(a, "a1"), usage(b, "b1", 2), usage(a, "a1"), usage(b, "x", metric="nope")]
    second = [usage(b, "b2", 3), usage(a, "a2", 4), usage(b, "b1", 2)]
    prepared = await _prepare(writer, conn, first, second)

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    assert [results(o) for o in answers] == [
        [
            ("a1", "ACCEPTED", None),
            ("b1", "ACCEPTED", None),
            ("a1", "DUPLICATE", None),
            ("x", "REJECTED", "UNKNOWN_METRIC"),
        ],
        [("b2", "ACCEPTED", None), ("a2", "ACCEPTED", None), ("b1", "DUPLICATE", None)],
    ]
    assert (await _counter(conn, a), await _counter(conn, b)) == (5.0, 5.0)
    # Each lane wrote both batches' events of its account in one transaction of its own.
    of_a, of_b = await _transactions_of(conn, a), await _transactions_of(conn, b)
    assert len(of_a) == len(of_b) == 1
    assert of_a != of_b
    # The write's report and touch name the lane's accounts only.
    reported = await conn.fetch(
        "select account_id, xmin::text as x from events where type = 'usage.recorded'"
    )
    assert {(r["account_id"], r["x"]) for r in reported} == {(a, *of_a), (b, *of_b)}


async def test_a_lane_that_fails_fails_its_batch_and_the_retry_counts_each_event_once(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    a, b = await _accounts_in_lanes(conn, 2)
    writer = IngestWriter(pool, Partitions(), lanes=2)
    events = [usage(a, "a1", 2), usage(b, "b1", 3), usage(a, "x", metric="nope")]
    [batch] = await _prepare(writer, conn, events)
    row = batch.rows.rows[1]  # b's event: text jsonb cannot hold, past every rule
    batch.rows.rows[1] = (*row[:2], "nul\x00", *row[3:])
    counted = _counted("accepted"), _counted("duplicate"), _counted("rejected", "unknown_metric")

    with pytest.raises(asyncpg.PostgresError):
        await writer.record(batch)
    # a's lane committed its part; the request failed, so its client sends the batch again.
    assert (await _counter(conn, a), await _counter(conn, b)) == (2.0, 0.0)
    # The metrics count what was decided: a1 accepted, nothing else yet.
    assert (_counted("accepted") - counted[0], _counted("rejected", "unknown_metric")) == (
        1,
        counted[2],
    )
    [again] = await _prepare(writer, conn, events)

    assert results(await writer.record(again)) == [
        ("a1", "DUPLICATE", None),
        ("b1", "ACCEPTED", None),
        ("x", "REJECTED", "UNKNOWN_METRIC"),
    ]
    assert (await _counter(conn, a), await _counter(conn, b)) == (2.0, 3.0)
    moved = [
        _counted("accepted") - counted[0],
        _counted("duplicate") - counted[1],
        _counted("rejected", "unknown_metric") - counted[2],
    ]
    assert moved == [2, 1, 1]  # each event once as decided, a1 also as the retry's duplicate


async def test_concurrent_batches_over_many_accounts_count_every_event_once_in_lanes(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["pro"]) for _ in range(12)]
    writer = IngestWriter(pool, Partitions(), lanes=3, group_events=10)
    batches = [
        [usage(accounts[(n * 7 + i) % 12], f"e{(n * 5 + i) % 60}") for i in range(9)]
        for n in range(16)
    ]
    prepared = await _prepare(writer, conn, *batches)

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    # Written one after another, each (account, id) would be accepted the first time only.
    seen: set[tuple[UUID, str]] = set()
    expected = []
    for events in batches:
        outcome = []
        for e in events:
            key = (e.account_id, e.event_id)
            outcome.append((e.event_id, "DUPLICATE" if key in seen else "ACCEPTED", None))
            seen.add(key)  # type: ignore[arg-type]
        expected.append(outcome)
    assert [results(o) for o in answers] == expected
    for account in accounts:
        ids = {e for a, e in seen if a == account}
        assert await _counter(conn, account) == len(ids)


# A batch as (account index, event number, value) triples; values are whole so that sums
# compare exactly.
_BATCHES = st.lists(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 15), st.integers(1, 3)), max_size=12),
    min_size=1,
    max_size=8,
)


@pytest.fixture
async def six_accounts(conn: asyncpg.Connection) -> list[UUID]:
    cat = await factories.catalog(conn)
    return [await factories.account(conn, cat["versions"]["pro"]) for _ in range(6)]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=_BATCHES, lanes=st.integers(1, 3), group_events=st.integers(1, 30))
async def test_any_batches_in_any_lanes_and_groups_are_decided_as_if_written_one_by_one(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    six_accounts: list[UUID],
    batches: list[list[tuple[int, int, int]]],
    lanes: int,
    group_events: int,
) -> None:
    source = f"example-{uuid4()}"  # each example's events are new to the database
    writer = IngestWriter(pool, Partitions(), lanes=lanes, group_events=group_events)
    sent = [
        [
            UsageEvent(f"e{n}", six_accounts[a], "m0", value, AT, source=source)
            for a, n, value in batch
        ]
        for batch in batches
    ]
    before = [await _counter(conn, a) for a in six_accounts]
    prepared = await _prepare(writer, conn, *sent)

    answers = await asyncio.gather(*(writer.record(p) for p in prepared))

    # The model: the batches one after another, each key accepted the first time only.
    seen: set[tuple[UUID | None, str]] = set()
    added = dict.fromkeys(six_accounts, 0.0)
    expected = []
    for events in sent:
        outcome = []
        for e in events:
            key = (e.account_id, e.event_id)
            outcome.append((e.event_id, "DUPLICATE" if key in seen else "ACCEPTED", None))
            if key not in seen:
                added[e.account_id] += e.value  # type: ignore[index]
            seen.add(key)
        expected.append(outcome)
    assert [results(o) for o in answers] == expected
    after = [await _counter(conn, a) for a in six_accounts]
    assert [b + added[a] for a, b in zip(six_accounts, before, strict=True)] == after
