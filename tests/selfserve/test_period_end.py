"""Self-served changes at the period's end: the scheduler applies each exactly once however
many runs race, and catches up after downtime as it does renewals."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg

from benefitgate.subscriptions import due
from tests.conftest import MakeApi, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.selfserve_api import ACTIONS, ALL, act, state

BY_ACTION = {case.action: case for case in ACTIONS}
PERIOD_END = datetime.fromisoformat("2026-12-05T12:00:00+00:00")
BACK_UP = datetime.fromisoformat("2027-02-20T00:00:00+00:00")  # three monthly periods later


async def test_self_served_changes_apply_once_at_the_period_end_and_catch_up_after_downtime(
    conn: asyncpg.Connection, make_api: MakeApi, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    downgraded = await factories.account(conn, cat["versions"]["pro"])
    annual = await factories.account(conn, cat["versions"]["basic"])
    leaving = await factories.account(conn, cat["versions"]["basic"])
    async with make_api(self_serve=ALL) as api:
        for account_id, action in [
            (downgraded, "SCHEDULE_DOWNGRADE"),
            (annual, "SCHEDULE_TERM_CHANGE"),
            (leaving, "CANCEL_AT_PERIOD_END"),
        ]:
            done = await act(api, frontend_token(account_id), BY_ACTION[action], account_id, 1,
                             "k")  # fmt: skip
            assert done["__typename"] == "SubscriptionChanged", done

        loader = catalog_loader(pool)
        early = await due.apply_due(pool, loader, PERIOD_END - timedelta(seconds=1))
        runs = await asyncio.gather(*(due.apply_due(pool, loader, BACK_UP) for _ in range(4)))
        # Three renewals of the monthly one, one of the annual one, the end of the last.
        assert (early, sum(runs)) == (0, 5)
        assert await due.apply_due(pool, loader, BACK_UP) == 0

        down = await state(api, frontend_token(downgraded), downgraded)
        assert (down["tier"], down["scheduledTier"], down["version"]) == ({"key": "basic"}, None, 5)
        yearly = await state(api, frontend_token(annual), annual)
        assert (yearly["term"], yearly["scheduledTerm"]) == ("ANNUAL", None)
        gone = await state(api, frontend_token(leaving), leaving)
        assert (gone["status"], gone["cancelAtPeriodEnd"]) == ("CANCELED", False)

    renewals = await conn.fetch(
        """select payload from events where account_id = $1
           and payload->>'action' = 'subscription.renewed' order by id""",
        downgraded,
    )
    assert [r["payload"]["effectiveAt"][:10] for r in renewals] == [
        "2026-12-05", "2027-01-05", "2027-02-05",
    ]  # fmt: skip
    versions = cat["versions"]
    assert [r["payload"]["previousTierVersionId"] for r in renewals] == [
        versions["pro"], versions["basic"], versions["basic"],
    ]  # fmt: skip
    assert [r["payload"]["priceCents"] for r in renewals] == [1000, 1000, 1000]
    term = await conn.fetch(
        "select payload from events where account_id = $1 and payload->>'action' = $2",
        annual,
        "subscription.renewed",
    )
    assert [(t["payload"]["effectiveAt"][:10], t["payload"]["priceCents"]) for t in term] == [
        ("2026-12-05", 10000)
    ]
    ended = await conn.fetchval(
        "select count(*) from audit_log where account_id = $1 and action = 'subscription.ended'",
        leaving,
    )
    assert ended == 1
