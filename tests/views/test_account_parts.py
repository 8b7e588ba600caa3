"""The account view's root reads the account with its grants and current counters in one
statement: what it answers is what the per-part loaders (which a page of accounts uses)
answer for the same account."""

from datetime import timedelta
from typing import Any

import asyncpg

from benefitgate.usage.periods import EPOCH
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.factories import NOW

PARTS = """usage { metric { key } periodStart used limit remaining enforcement }
  entitlements { benefit { key } source sources amount expiresAt }
  grants { id source amount validFrom validUntil }"""
ONE = "query($id: ID!) { account(id: $id) { ... on Account { id " + PARTS + " } } }"
PAGE = (
    "{ accounts(first: 50) { ... on AccountConnection { edges { node { id " + PARTS + " } } } } }"
)


async def _account_with_every_period(conn: asyncpg.Connection) -> Any:
    """An account with metrics of each reset, counters in their current period and in
    earlier ones, and grants ended, in force and starting later."""
    cat = await factories.catalog(conn, benefits=3, metrics=1)  # m0 resets per billing period
    basic = cat["versions"]["basic"]
    for key, reset in [("cm", "calendar_month"), ("nv", "never"), ("free", "calendar_month")]:
        await conn.execute("insert into metrics values ($1, $1, 'calls', 'sum', $2)", key, reset)
        if key != "free":  # a metric without a limit is not in the view
            await conn.execute("insert into tier_limits values ($1, $2, 'hard', 500)", basic, key)
    account_id = await factories.account(conn, basic)  # billing period from NOW - 10 days
    counters = [
        ("m0", NOW - timedelta(days=10), 7),  # the current billing period
        ("m0", NOW - timedelta(days=40), 70),  # the one before
        ("cm", NOW.replace(day=1, hour=0), 11),  # the current UTC month
        ("cm", NOW - timedelta(days=10), 110),  # not a month's start: never read
        ("nv", EPOCH, 13),
        ("free", NOW.replace(day=1, hour=0), 17),
    ]
    await conn.executemany(
        "insert into usage_counters (account_id, metric_key, period_start, value) "
        "values ($1, $2, $3, $4)",
        [(account_id, key, start, value) for key, start, value in counters],
    )
    await factories.grant(conn, account_id, "b1", source="addon", amount=2.5)
    await factories.grant(conn, account_id, "b2", valid_until=NOW - timedelta(hours=1))
    await conn.execute(
        """insert into grants (id, account_id, benefit_key, source, valid_from)
           values (gen_random_uuid(), $1, 'b2', 'trial', $2)""",
        account_id,
        NOW + timedelta(days=3),
    )
    return account_id


async def test_the_one_statement_view_answers_as_the_loaders_do(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id = await _account_with_every_period(conn)
    key = await api_key(conn)

    one = (await api.data(ONE, {"id": str(account_id)}, auth=key))["account"]
    page = await api.data(PAGE, auth=key)
    [node] = [e["node"] for e in page["accounts"]["edges"] if e["node"]["id"] == str(account_id)]

    assert one == node
    assert {u["metric"]["key"]: u["used"] for u in one["usage"]} == {
        "m0": 7.0,
        "cm": 11.0,
        "nv": 13.0,
    }
    assert sorted((g["source"], g["amount"]) for g in one["grants"]) == [
        ("ADDON", 2.5),
        ("TRIAL", None),
    ]
