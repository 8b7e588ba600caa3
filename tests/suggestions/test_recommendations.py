"""Right-sizing and adoption recommendations end to end: a lower tier when every limit was
used far below for three closed periods (with an add-on when one metric needs it, never
taking away a feature in use), an add-on instead of a whole tier under pressure, and an
included benefit unused for 60 days, each with its evidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import Api, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK

RECOMMENDATIONS = """query R($id: ID!) { recommendations(accountId: $id) { __typename
  ... on RecommendationList { recommendations { kind tier { key } benefit { key } confidence
      reasons { signal subject message observed limit since until }
      gains { benefit { key } outcome { key } expectedImpact impactUnit }
      losses { benefit { key } } monthlyPriceDelta { amountCents currency } } }
  ... on Error { code } } }"""
# The factory's monthly periods renew on the 5th; the subscription started 2026-08-05.
CLOSED = [datetime(2026, month, 5, 12, tzinfo=UTC) for month in (8, 9, 10)]


async def _counters(
    conn: asyncpg.Connection, account: uuid.UUID, metric: str, values: list[float]
) -> None:
    """Usage of `metric` in the three closed periods, oldest first."""
    ends = [*CLOSED[1:], NOW - timedelta(days=10)]
    await conn.executemany(
        """insert into usage_counters (account_id, metric_key, period_start, period_end, value)
           values ($1, $2, $3, $4, $5)""",
        [(account, metric, s, e, v) for s, e, v in zip(CLOSED, ends, values, strict=True)],
    )


async def _recommended(api: Api, account: uuid.UUID) -> list[dict[str, Any]]:
    data = await api.data(RECOMMENDATIONS, {"id": str(account)}, auth=frontend_token(account))
    found: list[dict[str, Any]] = data["recommendations"]["recommendations"]
    return found


def _of(kind: str, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in found if r["kind"] == kind]


async def test_a_tier_used_far_below_for_three_periods_recommends_the_lower_tier(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["pro"])
    await _counters(conn, account, "m0", [50, 60, 40])  # pro's limit: 1000; basic's: 100
    await _counters(conn, account, "m1", [10, 0, 5])
    check = await api.data(
        CHECK, {"id": str(account), "feature": "b0"}, auth=frontend_token(account)
    )
    assert check["entitlementCheck"]["allowed"] is True
    await api.flush_denials()

    (down,) = _of("DOWNGRADE", await _recommended(api, account))
    assert down["tier"] == {"key": "basic"}
    assert down["monthlyPriceDelta"] == {"amountCents": -4000, "currency": "USD"}
    assert [(r["signal"], r["subject"], r["observed"], r["limit"]) for r in down["reasons"]] == [
        ("USAGE_FAR_BELOW", "m0", 60.0, 1000.0),
        ("USAGE_FAR_BELOW", "m1", 10.0, 1000.0),
    ]
    assert (
        down["reasons"][0]["message"]
        == "m0 used at most 6% of the 1,000 calls limit in each of the last 3 periods"
    )
    assert (down["reasons"][0]["since"], down["reasons"][0]["until"]) == (
        "2026-08-05T12:00:00+00:00",
        "2026-11-05T12:00:00+00:00",
    )
    assert down["losses"] == [{"benefit": {"key": "b1"}}, {"benefit": {"key": "b2"}}]
    assert down["confidence"] == 0.51  # 1 - 0.7 * 0.7

    # A feature of pro's in use: basic would take it away, and no lower tier is left.
    check = await api.data(
        CHECK, {"id": str(account), "feature": "b1"}, auth=frontend_token(account)
    )
    assert check["entitlementCheck"]["allowed"] is True
    await api.flush_denials()
    assert _of("DOWNGRADE", await _recommended(api, account)) == []


async def test_one_metric_above_the_lower_tier_recommends_it_with_an_add_on(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, benefits=1)
    await conn.execute(
        """insert into benefits (key, name, kind, outcome_key, impact_amount, impact_unit,
           metric_key, introduced_on) values ('m0_pack', 'M0 pack', 'limit', 'hours_saved',
           1, 'hour a week', 'm0', '2025-01-01')"""
    )
    account = await factories.account(conn, cat["versions"]["pro"])
    await _counters(conn, account, "m0", [150, 200, 100])  # far below 1000, above basic's 80 %
    found = await _recommended(api, account)
    assert _of("DOWNGRADE", found) == []
    (down,) = _of("DOWNGRADE_WITH_ADDON", found)
    assert (down["tier"], down["benefit"]) == ({"key": "basic"}, {"key": "m0_pack"})
    assert {r["subject"] for r in down["reasons"]} == {"m0", "m1"}

    young = await factories.account(conn, cat["versions"]["pro"])
    await conn.execute(
        "update subscriptions set started_at = $2 where account_id = $1",
        young,
        NOW - timedelta(days=40),
    )
    assert await _recommended(api, young) == []  # too young to judge, nothing unused for 60 days


async def test_pressure_on_a_metric_with_a_pack_recommends_the_add_on_not_a_tier(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, benefits=1)
    await conn.execute(
        """insert into benefits (key, name, kind, outcome_key, impact_amount, impact_unit,
           metric_key, introduced_on) values ('m0_pack', 'M0 pack', 'limit', 'hours_saved',
           1, 'hour a week', 'm0', '2025-01-01')"""
    )
    account = await factories.account(conn, cat["versions"]["basic"])
    await _counters(conn, account, "m0", [10, 90, 95])  # basic's hard limit: 100
    (addon,) = _of("ADDON", await _recommended(api, account))
    assert addon["tier"] is None and addon["benefit"] == {"key": "m0_pack"}
    assert [(r["signal"], r["subject"], r["observed"]) for r in addon["reasons"]] == [
        ("LIMIT_PRESSURE", "m0", 95.0)
    ]
    assert addon["gains"] == [
        {"benefit": {"key": "m0_pack"}, "outcome": {"key": "hours_saved"}, "expectedImpact": 1.0,
         "impactUnit": "hour a week"}
    ]  # fmt: skip
    assert addon["monthlyPriceDelta"] is None  # add-ons are priced apart
    await factories.grant(conn, account, "m0_pack", source="addon", amount=100)
    assert _of("ADDON", await _recommended(api, account)) == []


async def test_an_included_feature_unused_for_60_days_is_an_adoption_tip(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    (tip,) = _of("ADOPTION", await _recommended(api, account))
    assert tip["benefit"] == {"key": "b0"}
    assert tip["gains"] == [
        {"benefit": {"key": "b0"}, "outcome": {"key": "hours_saved"}, "expectedImpact": 2.0,
         "impactUnit": "hours a week"}
    ]  # fmt: skip
    (reason,) = tip["reasons"]
    assert reason["signal"] == "BENEFIT_UNUSED" and "never used" in reason["message"]
    check = await api.data(
        CHECK, {"id": str(account), "feature": "b0"}, auth=frontend_token(account)
    )
    assert check["entitlementCheck"]["allowed"] is True
    await api.flush_denials()
    assert _of("ADOPTION", await _recommended(api, account)) == []
    other = await factories.account(conn, cat["versions"]["basic"])
    hidden = await api.data(RECOMMENDATIONS, {"id": str(other)}, auth=frontend_token(account))
    assert hidden["recommendations"]["code"] == "NOT_FOUND"
