"""A backdated event counts in the billing period that held at its instant, whatever
changed the periods since (a renewal into another term, a trial's end, a rollback), and
every read (impactSummary, the view's usage, usageSeries, suggestions) agrees. Before, an
earlier period was found by stepping back from the current one by the current term: an
event of 4 December after a renewal from monthly to annual on the 5th counted in a period
of 5 December 2025 to 5 December 2026, not in 5 November to 5 December."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate import db
from benefitgate.clock import FixedClock
from benefitgate.subscriptions import due
from benefitgate.subscriptions.service import catch_up, lock_subscription
from benefitgate.suggestions.service import load_evidence
from tests.conftest import Api, api_key, catalog_loader
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event

RENEWAL = NOW + timedelta(days=20)  # the factory's period: 5 November to 5 December, 12:00
PERIOD_BEFORE = (NOW - timedelta(days=10), RENEWAL)
TERM = """mutation($id: ID!, $v: Int!) { subscriptionChangeTerm(accountId: $id, term: ANNUAL,
  expectedVersion: $v, idempotencyKey: "annual") { __typename ... on Error { code } } }"""
SUMMARY = """query($id: ID!) { impactSummary(accountId: $id, from: "2026-11-01", to: "2026-12-31") {
  ... on ImpactSummary { metrics { metric { key } periods { periodStart periodEnd value } } } } }"""


async def record(api: Api, key: str, account_id: UUID, name: str, at: datetime) -> None:
    events = [event(account_id, name, 1, at=at)]
    recorded = await api.data(RECORD, {"events": events}, auth=key)
    assert recorded["usageRecord"]["accepted"] == 1, recorded


async def summary(api: Api, key: str, account_id: UUID) -> list[tuple[str, str, float]]:
    found: Any = await api.data(SUMMARY, {"id": str(account_id)}, auth=key)
    [metric] = found["impactSummary"]["metrics"]
    return [(p["periodStart"], p["periodEnd"], p["value"]) for p in metric["periods"]]


async def counters(conn: asyncpg.Connection, account_id: UUID) -> list[tuple[datetime, datetime]]:
    rows = await conn.fetch(
        """select period_start, period_end from usage_counters where account_id = $1
           order by period_start""",
        account_id,
    )
    return [(r["period_start"], r["period_end"]) for r in rows]


@pytest.mark.parametrize("written", [False, True])
async def test_an_event_before_a_renewal_into_another_term_counts_in_the_old_period(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool, clock: FixedClock, written: bool
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    scheduled = await api.data(TERM, {"id": str(account_id), "v": 1}, auth=key)
    assert scheduled["subscriptionChangeTerm"]["__typename"] == "SubscriptionChanged"
    clock.at = RENEWAL + timedelta(days=5)
    if written:
        await due.apply_due(pool, catalog_loader(pool), clock.at)

    await record(api, key, account_id, "late", RENEWAL - timedelta(days=1))
    await record(api, key, account_id, "now", clock.at)

    annual = (RENEWAL, RENEWAL.replace(year=2027))
    assert await counters(conn, account_id) == [PERIOD_BEFORE, annual]
    assert await summary(api, key, account_id) == [
        (PERIOD_BEFORE[0].isoformat(), RENEWAL.isoformat(), 1.0),
        (RENEWAL.isoformat(), annual[1].isoformat(), 1.0),
    ]


CREATE = """mutation($id: ID!, $at: DateTime!, $key: String!) {
  subscriptionCreate(accountId: $id, tier: "pro", term: MONTHLY, seats: 2, startsAt: $at,
  trialDays: 30, idempotencyKey: $key) { __typename ... on Error { code message } } }"""


async def test_an_event_just_after_a_renewal_into_another_term_counts_in_the_new_period(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    """An event dated up to five minutes ahead may fall past the period's end, in the
    period the renewal will start: one of the term scheduled, not the current one. It was
    stepped by the current term, so its counter was kept as 5 December to 5 January where
    the renewal made an annual period; the next events of the year counted in it, and
    impactSummary, the unique values' pruning and sustained milestones took the counter
    as ended on 5 January."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    scheduled = await api.data(TERM, {"id": str(account_id), "v": 1}, auth=key)
    assert scheduled["subscriptionChangeTerm"]["__typename"] == "SubscriptionChanged"
    clock.at = RENEWAL - timedelta(minutes=2)
    await record(api, key, account_id, "ahead", RENEWAL + timedelta(minutes=1))
    clock.at = RENEWAL + timedelta(days=40)
    await record(api, key, account_id, "later", clock.at)

    annual = (RENEWAL, RENEWAL.replace(year=2027))
    assert await counters(conn, account_id) == [annual]
    assert await summary(api, key, account_id) == [
        (RENEWAL.isoformat(), annual[1].isoformat(), 2.0)
    ]


@pytest.mark.parametrize("written", [False, True])
async def test_an_event_before_a_trial_end_and_renewal_counts_in_the_trial_period(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool, clock: FixedClock, written: bool
) -> None:
    """A trial ending with the period (both steps caught up at once) into an annual term:
    the trial's period keeps its events."""
    await factories.catalog(conn)
    account_id = uuid.uuid4()
    await conn.execute("insert into accounts (id, name) values ($1, 'New')", account_id)
    key = await api_key(conn)
    start = NOW - timedelta(days=5)  # 10 November: a trial and a period to 10 December
    variables = {"id": str(account_id), "at": start.isoformat(), "key": "create"}
    created = await api.data(CREATE, variables, auth=key)
    assert created["subscriptionCreate"]["__typename"] == "SubscriptionChanged", created
    scheduled = await api.data(TERM, {"id": str(account_id), "v": 1}, auth=key)
    assert scheduled["subscriptionChangeTerm"]["__typename"] == "SubscriptionChanged"
    renewal = start + timedelta(days=30)
    clock.at = renewal + timedelta(days=2)
    if written:
        assert await due.apply_due(pool, catalog_loader(pool), clock.at) == 2  # end, renewal

    await record(api, key, account_id, "late", renewal - timedelta(hours=1))
    await record(api, key, account_id, "now", renewal + timedelta(days=1))

    annual = (renewal, renewal.replace(year=2027))
    assert await counters(conn, account_id) == [(start, renewal), annual]


async def _term_entry(api: Api, key: str, account_id: UUID) -> str:
    document = """mutation($id: ID!) { subscriptionChangeTerm(accountId: $id, term: ANNUAL,
      expectedVersion: 1, idempotencyKey: "annual") {
      ... on SubscriptionChanged { auditEntryId } } }"""
    changed = await api.data(document, {"id": str(account_id)}, auth=key)
    return str(changed["subscriptionChangeTerm"]["auditEntryId"])


async def test_a_term_change_is_not_rolled_back_past_the_renewal_it_made(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    """The renewal into the annual term has happened for every answer, written or not:
    rolling the term change back would move the period (and the usage counted in it) back
    to a monthly one. Before, the stored row, not yet renewed, was restored."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    entry = await _term_entry(api, key, account_id)
    clock.at = RENEWAL + timedelta(days=5)
    await record(api, key, account_id, "now", clock.at)

    refused = await rollback(api, key, entry, "undo")

    assert refused["__typename"] == "RollbackRefusedError", refused
    await record(api, key, account_id, "late", RENEWAL - timedelta(days=1))
    annual = (RENEWAL, RENEWAL.replace(year=2027))
    assert await counters(conn, account_id) == [PERIOD_BEFORE, annual]
    assert await summary(api, key, account_id) == [
        (PERIOD_BEFORE[0].isoformat(), RENEWAL.isoformat(), 1.0),
        (RENEWAL.isoformat(), annual[1].isoformat(), 1.0),
    ]


async def test_a_term_change_rolled_back_before_its_renewal_leaves_monthly_periods(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    entry = await _term_entry(api, key, account_id)
    clock.at = RENEWAL - timedelta(days=1)
    assert (await rollback(api, key, entry, "undo"))["__typename"] == "RolledBack"
    clock.at = RENEWAL + timedelta(days=5)
    await due.apply_due(pool, catalog_loader(pool), clock.at)

    await record(api, key, account_id, "late", RENEWAL - timedelta(days=1))
    await record(api, key, account_id, "now", clock.at)

    monthly = (RENEWAL, RENEWAL.replace(month=1, year=2027))
    assert await counters(conn, account_id) == [PERIOD_BEFORE, monthly]


async def test_a_renewal_written_while_events_of_the_old_period_are_ingested(
    conn: asyncpg.Connection, api: Api, dsn: str, clock: FixedClock
) -> None:
    """The scheduler's transaction writes the renewal and holds it open while batches of
    the old period (and of the new) are recorded, by usageRecord and POST /events; more
    come after it commits. Every one counts in the period of its instant."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    await api.data(TERM, {"id": str(account_id), "v": 1}, auth=key)
    clock.at = RENEWAL + timedelta(days=5)
    late, current = RENEWAL - timedelta(days=1), clock.at

    async def both(name: str) -> None:
        await record(api, key, account_id, f"{name}-late", late)
        await record(api, key, account_id, f"{name}-now", current)
        body = [
            cloud_event(account_id, f"{name}-ce-{i}", at=at) for i, at in enumerate((late, current))
        ]
        response = await post_events(api.client, body, auth=key)
        assert response.status_code == 200, response.text

    await both("before")
    scheduler = await db.connect(dsn)
    try:
        async with scheduler.transaction():
            sub = await lock_subscription(scheduler, account_id)
            await catch_up(scheduler, account_id, sub, clock.at)
            await asyncio.wait_for(both("during"), 30)
        await both("after")
    finally:
        await scheduler.close()

    annual = (RENEWAL, RENEWAL.replace(year=2027))
    assert await counters(conn, account_id) == [PERIOD_BEFORE, annual]
    assert await summary(api, key, account_id) == [
        (PERIOD_BEFORE[0].isoformat(), RENEWAL.isoformat(), 6.0),
        (RENEWAL.isoformat(), annual[1].isoformat(), 6.0),
    ]


async def test_suggestions_read_the_periods_the_subscription_had(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    """The evidence of the last periods (`load_evidence`) is the monthly periods before a
    renewal into the annual term, whose counters the write filled."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    await api.data(TERM, {"id": str(account_id), "v": 1}, auth=key)
    clock.at = RENEWAL + timedelta(days=5)
    await due.apply_due(pool, catalog_loader(pool), clock.at)
    catalog = await catalog_loader(pool)()

    found = await load_evidence(conn, [account_id], catalog, clock.at, periods=3)

    account = found[account_id].account
    last = [account.period_at("billing_period", RENEWAL - timedelta(days=d)) for d in (1, 31)]
    assert [(p.start, p.end) for p in last] == [
        PERIOD_BEFORE,
        (PERIOD_BEFORE[0].replace(month=10), PERIOD_BEFORE[0]),
    ]
