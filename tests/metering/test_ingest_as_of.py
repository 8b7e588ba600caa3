"""Usage is recorded against the subscription as it stands when the event is recorded,
as every read shows it: a renewal time made due and the scheduler has not written yet
has happened. Before, ingest took the stored row, so an event recorded after a renewal
into another term counted in a period of the old term (a monthly period from 5 December
to 5 January, where the subscription showed an annual one), and one after a scheduled
downgrade was measured against the old tier's limits (no threshold crossed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.clock import FixedClock
from benefitgate.subscriptions import due
from tests.conftest import Api, api_key, catalog_loader
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event
from tests.fixtures.subscriptions_api import change

RENEWAL = NOW + timedelta(days=20)  # the factory's period ends on 5 December, 12:00
TERM = """mutation($id: ID!) { subscriptionChangeTerm(accountId: $id, term: ANNUAL,
  expectedVersion: 1, idempotencyKey: "annual") { __typename ... on Error { code } } }"""
PERIODS = """query($id: ID!) { impactSummary(accountId: $id, from: "2026-12-01", to: "2026-12-10") {
  ... on ImpactSummary { metrics { metric { key } periods { periodStart periodEnd value } } } } }"""


async def _record(api: Api, key: str, account_id: UUID, value: float) -> None:
    at = RENEWAL + timedelta(days=3)
    recorded = await api.data(RECORD, {"events": [event(account_id, "e1", value, at=at)]}, auth=key)
    assert recorded["usageRecord"]["accepted"] == 1, recorded


async def _periods(api: Api, key: str, account_id: UUID) -> Any:
    return (await api.data(PERIODS, {"id": str(account_id)}, auth=key))["impactSummary"]


@pytest.mark.parametrize("written", [False, True])
async def test_an_event_after_a_renewal_into_another_term_counts_in_the_new_term(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool, clock: FixedClock, written: bool
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    scheduled = await api.data(TERM, {"id": str(account_id)}, auth=key)
    assert scheduled["subscriptionChangeTerm"]["__typename"] == "SubscriptionChanged"
    clock.at = RENEWAL + timedelta(days=4)
    if written:
        await due.apply_due(pool, catalog_loader(pool), clock.at)

    await _record(api, key, account_id, 3)

    assert (await _periods(api, key, account_id))["metrics"] == [
        {
            "metric": {"key": "m0"},
            "periods": [
                {
                    "periodStart": RENEWAL.isoformat(),
                    "periodEnd": (RENEWAL.replace(year=2027)).isoformat(),
                    "value": 3.0,
                }
            ],
        }
    ]


async def test_an_event_after_a_scheduled_downgrade_is_measured_against_the_new_limits(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    downgrade = await change(api, key, account_id, "basic", 1, "down")
    assert downgrade["subscription"]["scheduledTier"] == {"key": "basic"}, downgrade
    clock.at = RENEWAL + timedelta(days=4)

    await _record(api, key, account_id, 90)  # 90 % of basic's 100, 9 % of pro's 1000

    crossings = await conn.fetch(
        "select payload from events where type = 'usage.threshold_crossed' and account_id = $1",
        account_id,
    )
    assert [(c["payload"]["threshold"], c["payload"]["limit"]) for c in crossings] == [(80, 100)]
