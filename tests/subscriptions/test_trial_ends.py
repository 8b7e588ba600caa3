"""A trial's end as every answer sees it: the renewal after a trial that ends first is the
one the subscription will reach, and a trial past its end is over at that instant in the
view, checks, consumption and signed snapshots alike, whether or not the scheduler ran."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import jwt

from benefitgate.clock import FixedClock
from benefitgate.subscriptions import due
from tests.conftest import Api, api_key, catalog_loader
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK, CONSUME
from tests.fixtures.subscriptions_api import RESULT

TRIAL = f"""
mutation Trial($id: ID!, $tier: String!, $days: Int!, $key: String!) {{
  subscriptionStartTrial(accountId: $id, tier: $tier, days: $days, expectedVersion: 1,
                         idempotencyKey: $key) {{ {RESULT} }}
}}
"""
CONVERT = f"""
mutation Convert($id: ID!) {{
  subscriptionSetTrialConversion(accountId: $id, convert: true, expectedVersion: 2,
                                 idempotencyKey: "convert") {{ {RESULT} }}
}}
"""
RENEWAL = """query Renewal($id: ID!) { account(id: $id) { ... on Account { renewal {
  renewsAt tier { key } price { amountCents } currentPrice { amountCents }
  changes { fromVersion { id } toVersion { id } } } } } }"""
NOTE = """query Note($id: ID!) { renewalNote(accountId: $id) { ... on RenewalNote {
  tier nextTier price { amountCents } nextPrice { amountCents } changes text } } }"""
VIEW = """query View($id: ID!) { account(id: $id) { ... on Account {
  subscription { status tier { key } trialEndsAt }
  entitlements { benefit { key } } usage { metric { key } limit unlimited } } } }"""
SNAPSHOT = """query Snapshot($id: ID!) { entitlementSnapshot(accountId: $id) {
  ... on EntitlementSnapshot { token expiresAt } } }"""
PERIOD_END = "2026-12-05T12:00:00+00:00"  # the factory's account's period


async def _trial(conn: asyncpg.Connection, api: Api, days: int) -> tuple[UUID, str]:
    """A basic (1,000 a month) account on a trial of pro (5,000) from NOW for `days`."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    variables = {"id": str(account_id), "tier": "pro", "days": days, "key": "trial"}
    started = await api.data(TRIAL, variables, auth=key)
    assert started["subscriptionStartTrial"]["subscription"]["tier"] == {"key": "pro"}
    return account_id, key


async def _read(api: Api, query: str, account_id: UUID, key: str) -> Any:
    return next(iter((await api.data(query, {"id": str(account_id)}, auth=key)).values()))


async def test_the_renewal_after_a_trial_ending_first_is_of_the_tier_it_returns_to(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await _trial(conn, api, days=3)  # ends on 11-18, the period on 12-05
    renewal = (await _read(api, RENEWAL, account_id, key))["renewal"]
    assert renewal == {
        "renewsAt": PERIOD_END,
        "tier": {"key": "basic"},
        "price": {"amountCents": 1000},
        "currentPrice": {"amountCents": 1000},  # a trial is free: basic is what is paid
        "changes": None,  # basic again by then, renewing onto basic
    }
    note = await _read(api, NOTE, account_id, key)
    assert (note["tier"], note["nextTier"], note["changes"]) == ("Basic", "Basic", [])
    assert (note["price"], note["nextPrice"]) == ({"amountCents": 1000}, {"amountCents": 1000})
    assert "your Basic plan renews on 2026-12-05" in note["text"]
    assert "as Basic, monthly, at 10.00 USD per term (now 10.00 USD)" in note["text"]

    converted = await api.data(CONVERT, {"id": str(account_id)}, auth=key)
    assert converted["subscriptionSetTrialConversion"]["subscription"]["version"] == 3
    renewal = (await _read(api, RENEWAL, account_id, key))["renewal"]
    assert (renewal["tier"], renewal["price"]) == ({"key": "pro"}, {"amountCents": 5000})
    assert renewal["currentPrice"] == {"amountCents": 1000}  # until the trial converts
    assert renewal["changes"] is None  # pro by then, renewing onto pro
    note = await _read(api, NOTE, account_id, key)
    assert (note["tier"], note["nextTier"], note["nextPrice"]) == (
        "Pro",
        "Pro",
        {"amountCents": 5000},
    )


async def test_a_trial_running_past_the_renewal_renews_on_its_tier_at_the_fallback_price(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    account_id, key = await _trial(conn, api, days=60)  # ends on 2027-01-14
    renewal = (await _read(api, RENEWAL, account_id, key))["renewal"]
    assert (renewal["tier"], renewal["price"], renewal["currentPrice"]) == (
        {"key": "pro"},  # still in its trial at the renewal
        {"amountCents": 1000},  # which is free: basic is what the next period costs
        {"amountCents": 1000},
    )
    assert renewal["changes"] is None
    # The scheduler renews as the view said it would, trial running on.
    assert await due.apply_due(pool, catalog_loader(pool), datetime.fromisoformat(PERIOD_END)) == 1
    payload = await conn.fetchval(
        "select payload from events where payload->>'action' = 'subscription.renewed'"
    )
    assert (payload["priceCents"], payload["subscription"]["status"]) == (1000, "trialing")


async def _answers(api: Api, account_id: UUID, key: str, at: datetime) -> dict[str, Any]:
    """What the view, checks, consumption and a signed snapshot say of the account at
    `at` (the clock's time: it names the consumption's idempotency key)."""
    view = await _read(api, VIEW, account_id, key)
    pro_only = await api.data(CHECK, {"id": str(account_id), "feature": "b1"}, auth=key)
    big = {"id": str(account_id), "metric": "m0", "requested": 150}
    metric = await api.data(CHECK, big, auth=key)
    consume = {"id": str(account_id), "metric": "m0", "amount": 150, "key": at.isoformat()}
    consumed = await api.data(CONSUME, consume, auth=key)
    token = (await _read(api, SNAPSHOT, account_id, key))["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    return {
        "status": view["subscription"]["status"],
        "tier": view["subscription"]["tier"]["key"],
        "benefits": sorted(e["benefit"]["key"] for e in view["entitlements"]),
        "limits": {u["metric"]["key"]: u["limit"] for u in view["usage"]},
        "checkB1": pro_only["entitlementCheck"]["allowed"],
        "checkM0": metric["entitlementCheck"]["allowed"],
        "consumed": consumed["usageConsume"]["__typename"],
        "snapshot": (claims["tier"], claims["status"], claims["entitlements"]),
    }


async def test_a_trial_past_its_end_is_over_everywhere_before_the_scheduler_runs(
    conn: asyncpg.Connection, api: Api, clock: FixedClock, pool: asyncpg.Pool
) -> None:
    account_id, key = await _trial(conn, api, days=3)
    trial_end = NOW + timedelta(days=3)
    clock.at = trial_end - timedelta(seconds=1)
    assert await _answers(api, account_id, key, clock.at) == {
        "status": "TRIALING",
        "tier": "pro",
        "benefits": ["b0", "b1", "b2"],
        "limits": {"m0": 1000.0, "m1": 1000.0},
        "checkB1": True,
        "checkM0": True,
        "consumed": "UsageConsumed",  # 150 of pro's soft 1,000
        "snapshot": ("pro", "trialing", ["b0", "b1", "b2"]),
    }
    over = {
        "status": "ACTIVE",
        "tier": "basic",
        "benefits": ["b0"],
        "limits": {"m0": 100.0, "m1": 100.0},
        "checkB1": False,
        "checkM0": False,  # 150 more than basic's hard 100
        "consumed": "QuotaExceeded",
        "snapshot": ("basic", "active", ["b0"]),
    }
    for after in (timedelta(0), timedelta(seconds=2)):
        clock.at = trial_end + after
        assert await _answers(api, account_id, key, clock.at) == over, after
    # The scheduler then writes what every answer already said, and nothing moves.
    assert await due.apply_due(pool, catalog_loader(pool), clock.at) == 1
    assert await conn.fetchval("select status from subscriptions") == "active"
    clock.at += timedelta(seconds=1)
    assert await _answers(api, account_id, key, clock.at) == over
