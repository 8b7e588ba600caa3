"""The demo data: realistic, consistent and deterministic."""

import asyncpg
import pytest

from benefitgate import db
from benefitgate.demo.seed import SeedError, seed_demo
from tests.conftest import Api, frontend_token
from tests.fixtures.database import ServerDatabases
from tests.fixtures.factories import NOW

ACCOUNT_VIEW = """query($id: ID!) { account(id: $id) { ... on Account {
  name tier { key } entitlements { benefit { key } source } usage { metric { key } used limit }
  nextTier { tier { key } } } } }"""


async def test_the_demo_catalog_covers_the_ladder_and_every_benefit_kind(
    conn: asyncpg.Connection,
) -> None:
    summary = await seed_demo(conn, accounts=120, seed=3, now=NOW)

    kinds = {r["kind"] for r in await conn.fetch("select distinct kind from benefits")}
    tiers = await conn.fetch(
        """select t.key, count(distinct l.metric_key) as limits,
                  count(distinct e.benefit_key) as exclusions
           from tiers t join tier_versions v on v.tier_key = t.key
           left join tier_limits l on l.tier_version_id = v.id
           left join tier_exclusions e on e.tier_version_id = v.id
           group by t.key, t.rank order by t.rank"""
    )
    assert summary.accounts == 120
    assert await conn.fetchval("select count(*) from accounts") == 120
    assert await conn.fetchval("select count(*) from benefits") >= 30
    assert kinds == {
        "feature",
        "limit",
        "credit",
        "support",
        "early_access",
        "education",
        "governance",
    }
    assert len(tiers) >= 4
    assert all(t["limits"] > 0 for t in tiers)
    assert all(t["exclusions"] > 0 for t in tiers[:-1])  # every tier but the top excludes something
    assert await conn.fetchval("select count(*) from partner_accounts") > 0
    assert await conn.fetchval("select count(*) from grants") > 0
    assert await conn.fetchval("select count(distinct day) from usage_daily") >= 90


async def test_sum_counters_agree_with_the_daily_history(conn: asyncpg.Connection) -> None:
    await seed_demo(conn, accounts=60, seed=5, now=NOW)

    mismatches = await conn.fetchval(
        """select count(*) from usage_counters c
           join metrics m on m.key = c.metric_key and m.aggregation in ('sum', 'count')
           join subscriptions s on s.account_id = c.account_id
           where c.period_start = s.current_period_start
             and exists (select 1 from usage_daily d  -- metrics kept with a daily history
                         where d.account_id = c.account_id and d.metric_key = c.metric_key)
             and c.value <> (select sum(d.value) from usage_daily d
                             where d.account_id = c.account_id and d.metric_key = c.metric_key
                               and d.day >= c.period_start::date and d.day <= $1::date)""",
        NOW,
    )
    assert await conn.fetchval("select count(*) from usage_counters") > 0
    assert mismatches == 0


async def test_the_same_seed_gives_the_same_data(databases: ServerDatabases, template: str) -> None:
    digests = []
    for _ in range(2):
        conn = await db.connect(await databases.clone(template))
        try:
            await seed_demo(conn, accounts=40, seed=11, now=NOW)
            digests.append(
                await conn.fetchval(
                    """select md5(string_agg(x, ',' order by x)) from (
                     select a.id::text || a.name || s.tier_version_id || s.seats as x
                     from accounts a join subscriptions s on s.account_id = a.id
                     union all
                     select id::text || benefit_key || coalesce(amount::text, '') from grants
                     union all
                     select account_id::text || metric_key || day || value from usage_daily) t"""
                )
            )
        finally:
            await conn.close()
    assert digests[0] == digests[1]


async def test_seeding_twice_is_refused_and_writes_nothing(conn: asyncpg.Connection) -> None:
    await seed_demo(conn, accounts=10, seed=1, now=NOW)

    with pytest.raises(SeedError):
        await seed_demo(conn, accounts=10, seed=2, now=NOW)
    assert await conn.fetchval("select count(*) from accounts") == 10


async def test_the_demo_account_view_answers_with_real_data(
    conn: asyncpg.Connection, api: Api
) -> None:
    summary = await seed_demo(conn, accounts=30, seed=42, now=NOW)

    data = await api.data(
        ACCOUNT_VIEW,
        {"id": str(summary.demo_account_id)},
        auth=frontend_token(summary.demo_account_id),
    )

    view = data["account"]
    assert view["tier"]["key"] == "business"
    assert view["nextTier"]["tier"]["key"] == "enterprise"
    assert any(u["used"] > 0 for u in view["usage"])
    assert any(e["source"] != "TIER" for e in view["entitlements"])


async def test_the_demo_account_has_outcome_targets_measured_by_its_readings(
    conn: asyncpg.Connection, api: Api
) -> None:
    summary = await seed_demo(conn, accounts=3, seed=42, now=NOW)
    query = """query View($id: ID!) { account(id: $id) { ... on Account {
      outcomeTargets { outcome { key direction metric { key } } target actual percent } } } }"""
    data = await api.data(
        query, {"id": str(summary.demo_account_id)}, auth=frontend_token(summary.demo_account_id)
    )
    targets = {t["outcome"]["key"]: t for t in data["account"]["outcomeTargets"]}
    assert set(targets) == {"admin_hours_saved", "time_to_insight"}
    hours = targets["admin_hours_saved"]
    assert hours["outcome"]["metric"] == {"key": "hours_saved"} and hours["actual"] > 0
    assert hours["percent"] == round(hours["actual"] / hours["target"] * 100, 2)
    insight = targets["time_to_insight"]
    assert insight["outcome"]["direction"] == "DECREASE"
    assert insight["percent"] == round(insight["target"] / insight["actual"] * 100, 2)
