"""`renewal { daysLeft }` counts calendar days (UTC) to the renewal's date, as the portal's
"9 days until your renewal on Dec 16" reads it, whatever the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from benefitgate.clock import FixedClock, days_until
from tests.conftest import Api, api_key
from tests.fixtures import factories

RENEWS = datetime(2026, 12, 16, tzinfo=UTC)
QUERY = """query($id: ID!) { account(id: $id) { ... on Account {
  renewal { renewalDate daysLeft } } } }"""


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (datetime(2026, 12, 7, 0, 0, tzinfo=UTC), 9),
        (datetime(2026, 12, 7, 12, 58, tzinfo=UTC), 9),  # 8 days and 11 hours: 9 days
        (datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC), 9),
        (datetime(2026, 12, 15, 23, 59, tzinfo=UTC), 1),
    ],
)
async def test_days_left_counts_calendar_days_to_the_renewal(
    conn: asyncpg.Connection, api: Api, clock: FixedClock, now: datetime, days: int
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute(
        """update subscriptions set current_period_start = $2, current_period_end = $3,
           renewal_date = $4 where account_id = $1""",
        account,
        RENEWS - timedelta(days=30),
        RENEWS,
        RENEWS.date(),
    )
    clock.at = now

    found = await api.data(QUERY, {"id": str(account)}, auth=await api_key(conn))

    assert found["account"]["renewal"] == {"renewalDate": "2026-12-16", "daysLeft": days}


def test_days_until_reads_both_instants_in_utc_and_never_goes_below_zero() -> None:
    at = datetime(2026, 12, 16, 0, 30, tzinfo=UTC)
    tokyo = datetime(2026, 12, 16, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # 15th in UTC

    assert days_until(at, datetime(2026, 12, 15, 23, 0, tzinfo=UTC)) == 1
    assert days_until(at, at) == 0
    assert days_until(at, at + timedelta(days=2)) == 0
    assert days_until(at, tokyo) == 1
