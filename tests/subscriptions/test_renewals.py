"""Renewals, term changes and trials end to end: scheduled through GraphQL, applied by the
scheduler exactly once however many runs race, and caught up after downtime."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.clock import FixedClock
from benefitgate.subscriptions import due
from tests.conftest import Api, MakeApi, api_key, catalog_loader, eventually
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.subscriptions_api import RESULT, change

TERM = f"""
mutation Term($id: ID!, $term: Term!, $version: Int!, $key: String!) {{
  subscriptionChangeTerm(accountId: $id, term: $term, expectedVersion: $version,
                         idempotencyKey: $key) {{ {RESULT} }}
}}
"""
TRIAL = f"""
mutation Trial($id: ID!, $tier: String!, $days: Int!, $version: Int!, $key: String!) {{
  subscriptionStartTrial(accountId: $id, tier: $tier, days: $days,
                         expectedVersion: $version, idempotencyKey: $key) {{ {RESULT} }}
}}
"""
CONVERT = f"""
mutation Convert($id: ID!, $convert: Boolean!, $version: Int!, $key: String!) {{
  subscriptionSetTrialConversion(accountId: $id, convert: $convert,
                                 expectedVersion: $version, idempotencyKey: $key) {{ {RESULT} }}
}}
"""
VIEW = """query View($id: ID!) { account(id: $id) { ... on Account { subscription {
  tier { key } status term scheduledTier { key } scheduledTerm scheduledChangeAt
  trialEndsAt trialFallbackTier { key } trialConverts currentPeriodEnd version } } } }"""
PERIOD_END = datetime.fromisoformat("2026-12-05T12:00:00+00:00")


async def mutate(api: Api, auth: str, query: str, /, **variables: Any) -> Any:
    """Run one mutation; `variables` are the query's, with `id` an account id."""
    variables["id"] = str(variables["id"])
    data = await api.data(query, variables, auth=auth)
    return next(iter(data.values()))


async def subscription(api: Api, key: str, account_id: UUID) -> Any:
    view = await api.data(VIEW, {"id": str(account_id)}, auth=key)
    return view["account"]["subscription"]


async def test_a_scheduled_downgrade_and_term_change_apply_at_renewal_once_however_many_run(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    await change(api, key, account_id, "basic", 1, "down")
    termed = await mutate(api, key, TERM, id=account_id, term="ANNUAL", version=2, key="annual")
    assert termed["__typename"] == "SubscriptionChanged"
    scheduled = await subscription(api, key, account_id)
    assert (scheduled["scheduledTier"], scheduled["scheduledTerm"]) == ({"key": "basic"}, "ANNUAL")
    assert scheduled["scheduledChangeAt"] == PERIOD_END.isoformat()

    early = await due.apply_due(pool, catalog_loader(pool), PERIOD_END - timedelta(seconds=1))
    runs = [
        due.apply_due(pool, catalog_loader(pool), PERIOD_END + timedelta(hours=1)) for _ in range(6)
    ]
    assert (early, sum(await asyncio.gather(*runs))) == (0, 1)

    renewed = await subscription(api, key, account_id)
    assert renewed == {
        "tier": {"key": "basic"},
        "status": "ACTIVE",
        "term": "ANNUAL",
        "scheduledTier": None,
        "scheduledTerm": None,
        "scheduledChangeAt": None,
        "trialEndsAt": None,
        "trialFallbackTier": None,
        "trialConverts": False,
        "currentPeriodEnd": "2027-12-05T12:00:00+00:00",
        "version": 4,
    }
    entry = await conn.fetchrow("select * from audit_log where action = 'subscription.renewed'")
    assert (entry["actor"], entry["after"]["term"]) == ("scheduler", "annual")
    event = await conn.fetchrow(
        "select payload from events where payload->>'action' = 'subscription.renewed'"
    )
    assert event["payload"]["effectiveAt"] == PERIOD_END.isoformat()
    assert event["payload"]["priceCents"] == 10000  # basic, annual
    refused = await rollback(api, key, entry["id"], "undo-renewal")
    assert (refused["code"], refused["message"]) == (
        "INVALID_INPUT",
        "renewals and trial ends are not rolled back",
    )


async def test_a_service_down_for_three_periods_renews_each_once_after_restart(
    conn: asyncpg.Connection, make_api: MakeApi, clock: FixedClock, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    clock.at = datetime.fromisoformat("2027-02-20T00:00:00+00:00")
    renewals = "select count(*) from audit_log where action = 'subscription.renewed'"
    async with make_api(scheduler_seconds=3600):  # the first tick runs at start-up
        await eventually(conn, renewals, 3)
    periods = await conn.fetch(
        """select after->>'currentPeriodStart' as start, after->>'currentPeriodEnd' as end
           from audit_log where account_id = $1 order by id""",
        account_id,
    )
    assert [(p["start"][:10], p["end"][:10]) for p in periods] == [
        ("2026-12-05", "2027-01-05"),
        ("2027-01-05", "2027-02-05"),
        ("2027-02-05", "2027-03-05"),
    ]
    async with make_api(scheduler_seconds=3600):
        await asyncio.sleep(0.2)
    assert await due.apply_due(pool, catalog_loader(pool), clock.now()) == 0
    assert await conn.fetchval("select count(*) from audit_log") == 3
    assert await conn.fetchval("select version from subscriptions") == 4


async def test_a_converting_trial_keeps_its_tier_and_a_plain_one_falls_back(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    converting = await factories.account(conn, cat["versions"]["basic"])
    plain = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    for account_id in (converting, plain):
        started = await mutate(
            api, key, TRIAL, id=account_id, tier="pro", days=14, version=1, key=f"t{account_id}"
        )
        assert started["subscription"]["tier"] == {"key": "pro"}
    on_trial = await subscription(api, key, plain)
    assert (on_trial["status"], on_trial["trialFallbackTier"]) == ("TRIALING", {"key": "basic"})
    assert on_trial["trialEndsAt"] == "2026-11-29T12:00:00+00:00"
    converted = await mutate(api, key, CONVERT, id=converting, convert=True, version=2, key="c")
    assert converted["subscription"]["version"] == 3

    assert (
        await due.apply_due(
            pool, catalog_loader(pool), datetime.fromisoformat("2026-12-01T00:00:00+00:00")
        )
        == 2
    )
    kept, fell = await subscription(api, key, converting), await subscription(api, key, plain)
    assert (kept["status"], kept["tier"], kept["trialEndsAt"]) == ("ACTIVE", {"key": "pro"}, None)
    assert (fell["status"], fell["tier"]) == ("ACTIVE", {"key": "basic"})
    assert kept["currentPeriodEnd"] == PERIOD_END.isoformat()
    payload = await conn.fetchval(
        "select payload from events where payload->>'action' = 'subscription.trial_converted'"
    )
    # 4,000 cents a month more, for the 6 of 30 days left after the trial: 800
    assert (payload["amountDueCents"], payload["effectiveAt"]) == (800, "2026-11-29T12:00:00+00:00")


async def test_term_and_trial_changes_refuse_what_does_not_apply(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)

    async def refused(query: str, **variables: Any) -> tuple[str, str]:
        result = await mutate(api, key, query, id=account_id, **variables)
        return result["code"], result.get("field", "")

    assert await refused(TERM, term="MONTHLY", version=1, key="k1") == ("INVALID_INPUT", "term")
    lower = {"tier": "basic", "days": 14, "version": 1, "key": "k2"}
    assert await refused(TRIAL, **lower) == ("INVALID_INPUT", "tier")
    assert await refused(TRIAL, **{**lower, "days": 0, "key": "k3"}) == ("INVALID_INPUT", "days")
    assert await refused(CONVERT, convert=True, version=1, key="k4") == (
        "INVALID_INPUT",
        "accountId",
    )
    assert await refused(TERM, term="ANNUAL", version=7, key="k5") == ("VERSION_CONFLICT", "")
    assert await conn.fetchval("select count(*) from audit_log") == 0
    assert await conn.fetchval("select version from subscriptions") == 1
