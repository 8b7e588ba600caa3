"""Ingest's write statement reports the counters it changes itself: the `usage.recorded`
events and the two notifications are those `recorded.report_usage` and `events.touch`
make in statements of their own (as consumption still does)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from benefitgate import db
from benefitgate.events import outbox, touch
from benefitgate.metering.models import UsageEvent
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import record_directly


def _event(account_id: UUID, event_id: str, value: float, days_back: int = 0) -> UsageEvent:
    at = NOW - timedelta(days=days_back, hours=1)
    return UsageEvent(event_id, account_id, "m0", value, at)


async def _payloads(conn: asyncpg.Connection) -> dict[UUID, Any]:
    rows = await conn.fetch("select account_id, payload from events where type = 'usage.recorded'")
    return {r["account_id"]: r["payload"] for r in rows}


async def _listening(dsn: str) -> tuple[asyncpg.Connection, asyncio.Queue[tuple[str, str]]]:
    heard: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    listener = await db.connect(dsn)
    for channel in (touch.CHANNEL, outbox.CHANNEL):
        await listener.add_listener(
            channel, lambda _c, _p, ch, payload: heard.put_nowait((ch, payload))
        )
    return listener, heard


async def _heard(heard: asyncio.Queue[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    got = [await asyncio.wait_for(heard.get(), 5) for _ in range(count)]
    await asyncio.sleep(0.2)  # nothing more follows
    assert heard.empty()
    return sorted(got)


async def test_the_write_reports_each_accounts_counters_as_report_usage_did(
    conn: asyncpg.Connection, dsn: str
) -> None:
    cat = await factories.catalog(conn)
    plain = await factories.account(conn, cat["versions"]["basic"])
    odd = await factories.account(conn, cat["versions"]["basic"])
    # A period that starts at a fraction of a second: isoformat writes its microseconds.
    await conn.execute(
        "update subscriptions set current_period_start = current_period_start"
        " + interval '0.123456 seconds' where account_id = $1",
        odd,
    )
    listener, heard = await _listening(dsn)
    try:
        events = [
            _event(plain, "a", 2.5),
            _event(plain, "b", 3),
            _event(plain, "before", 4, days_back=12),  # the previous period's counter
            _event(odd, "c", 7),
        ]
        await record_directly(dsn, events)
        notified = await _heard(heard, 2)
    finally:
        await listener.close()

    counters = await conn.fetch(
        "select account_id, metric_key, period_start, value::float8 from usage_counters"
    )
    expected: dict[UUID, list[dict[str, Any]]] = {}
    for account_id, metric, start, value in counters:
        entry = {"metric": metric, "periodStart": start.isoformat(), "value": value}
        expected.setdefault(account_id, []).append(entry)
    payloads = await _payloads(conn)
    assert set(payloads) == {plain, odd}
    for account_id, payload in payloads.items():
        key = lambda c: c["periodStart"]  # noqa: E731 (the order within an event is free)
        assert sorted(payload["counters"], key=key) == sorted(expected[account_id], key=key)
    assert payloads[odd]["counters"][0]["periodStart"].endswith(".123456+00:00")
    assert notified == sorted(
        [(outbox.CHANNEL, ""), (touch.CHANNEL, ",".join(sorted(str(a) for a in (plain, odd))))]
    )


async def test_a_batch_of_duplicates_reports_nothing_and_many_accounts_are_touched_by_name(
    conn: asyncpg.Connection, dsn: str
) -> None:
    cat = await factories.catalog(conn)
    many = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(401)]
    events = [_event(a, f"e{i}", 1) for i, a in enumerate(many)]
    listener, heard = await _listening(dsn)
    try:
        await record_directly(dsn, events)
        first = await _heard(heard, 4)
        await record_directly(dsn, events)  # all duplicates: no counter changed
        again = await _heard(heard, 0)
    finally:
        await listener.close()
    assert first[0] == (outbox.CHANNEL, "")
    assert _touched(first[1:]) == sorted(many)
    assert again == []
    assert len(await _payloads(conn)) == 401


@pytest.mark.parametrize("accounts", [1, 200, 201, 401])
async def test_touch_names_every_account_in_notifications_of_at_most_max_ids(
    conn: asyncpg.Connection, dsn: str, accounts: int
) -> None:
    """`events.touch.touch`, as consumption and suggestion updates send it: each account
    once, none more than MAX_IDS to a notification, and only after the commit."""
    ids = sorted(uuid4() for _ in range(accounts))
    listener, heard = await _listening(dsn)
    try:
        async with conn.transaction():
            await touch.touch(conn, [*ids, ids[0]])
            assert heard.empty()
        parts = -(-accounts // touch.MAX_IDS)
        notified = await _heard(heard, parts)
    finally:
        await listener.close()
    assert all(len(p.split(",")) <= touch.MAX_IDS for _, p in notified)
    assert _touched(notified) == ids


def _touched(notified: list[tuple[str, str]]) -> list[UUID]:
    """The accounts touch notifications name, each as often as named."""
    assert {channel for channel, _ in notified} == {touch.CHANNEL}
    named = [a for _, payload in notified for a in touch.parse(payload) or []]
    assert len(named) == len(set(named))
    return sorted(named)
