"""The renewal on the account view, and renewal reminders sent once per lead time."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import asyncpg

from benefitgate.renewals import reminders
from tests.conftest import Api, api_key, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.subscriptions_api import change

RENEWAL = """query Renewal($id: ID!) { account(id: $id) { ... on Account { renewal {
  renewsAt daysLeft term tier { key version } price { amountCents } currentPrice { amountCents }
  grandfathered changesScheduled changes { pricesChanged: monthlyPrice { before { amountCents }
  after { amountCents } } } } } } }"""


async def test_the_renewal_shows_the_version_and_price_the_subscription_renews_onto(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    await conn.execute(
        """insert into tier_versions (tier_key, version, value_narrative, currency,
           monthly_price_cents, annual_price_cents, support_level,
           support_first_response_hours, support_channels, effective_from, published_at)
           values ('pro', 2, 'new', 'USD', 6000, 60000, 'standard', 24, '{email}', $1, $1)""",
        NOW - timedelta(days=1),
    )
    token = frontend_token(account_id)
    renewal = (await api.data(RENEWAL, {"id": str(account_id)}, auth=token))["account"]["renewal"]
    assert renewal == {
        "renewsAt": "2026-12-05T12:00:00+00:00",
        "daysLeft": 20,
        "term": "MONTHLY",
        "tier": {"key": "pro", "version": 2},
        "price": {"amountCents": 6000},
        "currentPrice": {"amountCents": 5000},
        "grandfathered": True,
        "changesScheduled": False,
        "changes": {
            "pricesChanged": {"before": {"amountCents": 5000}, "after": {"amountCents": 6000}}
        },
    }
    key = await api_key(conn)
    await change(api, key, account_id, "basic", 1, "down")
    after = (await api.data(RENEWAL, {"id": str(account_id)}, auth=token))["account"]["renewal"]
    assert (after["tier"], after["price"]) == (
        {"key": "basic", "version": 1},
        {"amountCents": 1000},
    )
    assert after["changesScheduled"] is True


async def test_reminders_go_once_per_lead_time_within_the_period_whatever_races(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    monthly = await factories.account(conn, cat["versions"]["basic"])  # renews 2026-12-05
    annual = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute(
        """update subscriptions set term = 'annual', current_period_start = $2,
           current_period_end = $3, renewal_date = $4 where account_id = $1""",
        annual,
        datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        datetime.fromisoformat("2027-01-01T00:00:00+00:00"),
        date(2027, 1, 1),
    )
    # Now (2026-11-15): the annual one is past its 90- and 60-day marks; the monthly one's
    # 30-day mark is its period's start; 90 and 60 days fall before its period.
    sent = await asyncio.gather(
        *(reminders.send_due(pool, catalog_loader(pool), NOW) for _ in range(4))
    )
    assert sum(sent) == 3
    rows = await conn.fetch(
        "select account_id, type, payload from events order by account_id, payload->>'daysBefore'"
    )
    got = {(r["account_id"], r["payload"]["daysBefore"]) for r in rows}
    assert got == {(annual, 90), (annual, 60), (monthly, 30)}
    assert {r["type"] for r in rows} == {"renewal.reminder"}
    later = datetime.fromisoformat("2026-12-03T00:00:00+00:00")
    assert (
        await reminders.send_due(pool, catalog_loader(pool), later) == 1
    )  # the annual one's 30 days
    assert await reminders.send_due(pool, catalog_loader(pool), later) == 0
