"""The term's figures count exactly its billing period, from its start instant; a limit
override superseded by a newer one is not a benefit used; a range is at most three years
of days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.clock import FixedClock
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import entitlements_api, factories
from tests.fixtures.metering_api import RECORD, event

START = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # the term starts half an hour before midnight
NOTE = """query N($id: ID!) { renewalNote(accountId: $id) { ... on RenewalNote {
  daysLeft text impact { metrics { metric { key } value periods { value } } } } } }"""
SUMMARY = """query S($id: ID!, $from: Date, $to: Date, $period: ImpactPeriod) {
  impactSummary(accountId: $id, period: $period, from: $from, to: $to) {
    __typename
    ... on ImpactSummary { from to metrics { metric { key } value limit
      months { total } periods { value percent } }
      benefitsUsed { grant { amount mode } used } }
    ... on InvalidInputError { field message } } }"""
USED = """query U($id: ID!) {
  account(id: $id) { ... on Account { usage { metric { key } used } } } }"""


async def _term_from(conn: asyncpg.Connection, account: UUID, start: datetime) -> None:
    await conn.execute(
        """update subscriptions set current_period_start = $2, current_period_end = $3,
           renewal_date = $4 where account_id = $1""",
        account,
        start,
        start + timedelta(days=30),
        (start + timedelta(days=30)).date(),
    )


async def _record(api: Api, key: str, account: UUID, *events: tuple[str, float, datetime]) -> None:
    batch = [event(account, name, value, at=at) for name, value, at in events]
    found = (await api.data(RECORD, {"events": batch}, auth=key))["usageRecord"]
    assert found["accepted"] == len(batch), found


async def test_the_term_counts_from_its_start_instant_not_its_first_day(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    account = await factories.account(conn, cat["versions"]["basic"])
    await _term_from(conn, account, START)
    clock.at = datetime(2026, 12, 7, 23, 45, tzinfo=UTC)
    key = await api_key(conn)
    await _record(
        api,
        key,
        account,
        ("before-same-day", 100, START - timedelta(hours=4, minutes=30)),
        ("a-second-before", 1, START - timedelta(seconds=1)),
        ("at-the-start", 10, START),
    )
    token = frontend_token(account, ttl=timedelta(days=60))

    used = (await api.data(USED, {"id": str(account)}, auth=token))["account"]["usage"]
    term = await api.data(SUMMARY, {"id": str(account), "period": "TERM"}, auth=token)
    note = (await api.data(NOTE, {"id": str(account)}, auth=token))["renewalNote"]

    assert used == [{"metric": {"key": "m0"}, "used": 10.0}]
    (m0,) = term["impactSummary"]["metrics"]
    assert (m0["value"], m0["periods"]) == (10, [{"value": 10, "percent": 10.0}])
    assert [m["total"] for m in m0["months"]] == [111]  # the daily buckets: whole UTC days
    assert note["impact"]["metrics"] == [
        {"metric": {"key": "m0"}, "value": 10, "periods": [{"value": 10}]}
    ]
    assert "m0: 10 calls (fullest period 10% of limit)." in note["text"]
    # 22 days and 23 h 45 min before the renewal at 23:30 on 30 December: 23 calendar days.
    assert note["daysLeft"] == 23


async def test_a_term_without_usage_since_its_start_counts_nothing(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    account = await factories.account(conn, cat["versions"]["basic"])
    await _term_from(conn, account, START)
    clock.at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    await _record(api, await api_key(conn), account, ("earlier", 100, START - timedelta(hours=1)))

    term = await api.data(
        SUMMARY,
        {"id": str(account), "period": "TERM"},
        auth=frontend_token(account, ttl=timedelta(days=60)),
    )

    (m0,) = term["impactSummary"]["metrics"]
    assert (m0["value"], m0["periods"]) == (0, [])


async def test_a_term_starting_at_midnight_counts_its_days_and_its_counter_alike(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    account = await factories.account(conn, cat["versions"]["basic"])
    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    await _term_from(conn, account, midnight)
    clock.at = midnight + timedelta(days=3)
    await _record(
        api,
        await api_key(conn),
        account,
        ("before", 5, midnight - timedelta(seconds=1)),
        ("first", 7, midnight),
        ("later", 8, midnight + timedelta(days=2)),
    )

    term = await api.data(
        SUMMARY,
        {"id": str(account), "period": "TERM"},
        auth=frontend_token(account, ttl=timedelta(days=60)),
    )

    (m0,) = term["impactSummary"]["metrics"]
    assert (m0["value"], [m["total"] for m in m0["months"]]) == (15, [15])


async def _override(api: Api, key: str, account: UUID, included: float, name: str) -> None:
    mutation = """mutation O($id: ID!, $included: Float!, $key: String!) {
      limitOverride(accountId: $id, metric: "m0", included: $included, idempotencyKey: $key) {
        __typename } }"""
    variables = {"id": str(account), "included": included, "key": name}
    assert (await api.data(mutation, variables, auth=key))["limitOverride"]["__typename"] == (
        "GrantChanged"
    )


async def test_an_override_superseded_by_a_newer_one_is_not_a_benefit_used(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account, key = await entitlements_api.setup(conn)  # m0: tier limit 100, m0_more raises it
    await _override(api, key, account, 300, "o1")
    clock.advance(timedelta(minutes=1))
    await _override(api, key, account, 200, "o2")
    await factories.usage(conn, account, "m0", 150)

    found = await api.data(
        SUMMARY,
        {"id": str(account), "period": "TERM"},
        auth=frontend_token(account, ttl=timedelta(days=60)),
    )

    summary = found["impactSummary"]
    # Used: what the period took above the tier's 100, up to the 100 the override raised.
    assert summary["benefitsUsed"] == [{"grant": {"amount": 200, "mode": "OVERRIDE"}, "used": 50}]
    assert summary["metrics"][0]["limit"] == 200


async def test_an_override_that_outlived_a_newer_one_counts_again(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account, key = await entitlements_api.setup(conn)
    await _override(api, key, account, 300, "o1")
    clock.advance(timedelta(minutes=1))
    await _override(api, key, account, 120, "o2")
    await conn.execute(
        "update grants set valid_until = $2 where account_id = $1 and amount = 120",
        account,
        clock.at + timedelta(hours=1),
    )
    clock.advance(timedelta(hours=2))
    await factories.usage(conn, account, "m0", 250)

    found = await api.data(
        SUMMARY,
        {"id": str(account), "period": "TERM"},
        auth=frontend_token(account, ttl=timedelta(days=60)),
    )

    used = {u["grant"]["amount"]: u["used"] for u in found["impactSummary"]["benefitsUsed"]}
    assert used == {300: 150, 120: 20}  # each by the periods it counted in


async def test_a_range_is_at_most_three_years_of_days(conn: asyncpg.Connection, api: Api) -> None:
    account, key = await entitlements_api.setup(conn)

    async def ask(start: str, end: str) -> Any:
        variables = {"id": str(account), "from": start, "to": end}
        return (await api.data(SUMMARY, variables, auth=key))["impactSummary"]

    assert (await ask("2023-12-06", "2026-12-05"))["__typename"] == "ImpactSummary"
    refused = await ask("2023-12-06", "2026-12-06")
    assert refused == {
        "__typename": "InvalidInputError",
        "field": "to",
        "message": "at most three years: to must be before 2026-12-06",
    }
    assert (await ask("2023-12-06", "2026-12-07"))["__typename"] == "InvalidInputError"
    assert (await ask("2024-02-29", "2027-02-28"))["__typename"] == "ImpactSummary"
    assert (await ask("2024-02-29", "2027-03-01"))["__typename"] == "InvalidInputError"
