"""The report job's batched summaries equal the one-account summaries, account by account:
rows of one account never reach another's."""

from __future__ import annotations

import random
from datetime import date, timedelta

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.catalog.repository import load_catalog
from benefitgate.impact import service
from benefitgate.impact.models import DayRange
from tests.fixtures import factories
from tests.fixtures.factories import NOW


async def test_a_batch_of_summaries_equals_each_account_summarised_alone(
    conn: asyncpg.Connection,
) -> None:
    cat = await factories.catalog(conn)
    ids = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(4)]
    rng = random.Random(3)
    days = DayRange(date(2026, 7, 1), date(2026, 9, 30))
    for n, account in enumerate(ids[:3]):  # the last has nothing at all
        await conn.copy_records_to_table(
            "usage_daily",
            records=[
                (account, metric, days.start + timedelta(days=d), float(rng.randint(0, 9)))
                for metric in ("m0", "m1")
                for d in range(0, 92, 7 + n)
            ],
            columns=["account_id", "metric_key", "day", "value"],
        )
        await factories.grant(conn, account, "b1", amount=float(n))
        await conn.execute(
            "insert into outcome_targets values ($1, 'hours_saved', $2, $3, $4, '', 'ops', $5)",
            account, 10.0 * (n + 1), days.start, days.end, NOW,
        )  # fmt: skip
    await conn.execute("update outcomes set metric_key = 'm1' where key = 'hours_saved'")
    catalog = await load_catalog(conn)
    found = await accounts.accounts_by_ids(conn, ids)
    batch = await service.summaries_on(conn, list(found.values()), days, catalog, NOW)
    alone = {a: await service.summary_on(conn, found[a], days, catalog, NOW) for a in ids}
    assert batch == alone
    assert len({s.outcomes for s in batch.values()}) == 4  # they do differ
