"""The impact summary over a full term, checked against figures computed here from the raw
rows the test wrote; and the ranges a summary may cover."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW

SUMMARY = """query Impact($id: ID!, $period: ImpactPeriod, $from: Date, $to: Date) {
  impactSummary(accountId: $id, period: $period, from: $from, to: $to) {
    __typename
    ... on ImpactSummary {
      from to newSince
      metrics { metric { key } value limit peakPercent trendPercent
                months { month total peak } periods { value percent } }
      milestones { milestoneKey occurrence reward { key } rewardAmount }
      benefitsUsed { grant { benefit { key } source } used }
      outcomes { outcome { key } delivered target targetActual percent met
                 value { amountCents currency } }
      valueDelivered { amountCents currency }
      newBenefits { key } newTierVersions { key }
    }
    ... on Error { code message }
    ... on InvalidInputError { field }
  }
}"""
TERM_START = NOW - timedelta(days=300)
TERM_END = NOW + timedelta(days=65)


async def _annual_term(conn: asyncpg.Connection, account: uuid.UUID) -> None:
    await conn.execute(
        """update subscriptions set term = 'annual', current_period_start = $2,
           current_period_end = $3, renewal_date = $4 where account_id = $1""",
        account,
        TERM_START,
        TERM_END,
        TERM_END.date(),
    )


async def _daily(conn: asyncpg.Connection, account: uuid.UUID) -> dict[str, dict[date, float]]:
    """Random daily usage of m0 and m1 from before the term to today."""
    rng = random.Random(7)
    first = (TERM_START - timedelta(days=40)).date()
    days = [first + timedelta(days=n) for n in range((NOW.date() - first).days + 1)]
    rows = {m: {d: float(rng.randint(0, 50)) for d in days} for m in ("m0", "m1")}
    await conn.copy_records_to_table(
        "usage_daily",
        records=[(account, m, d, v) for m, values in rows.items() for d, v in values.items()],
        columns=["account_id", "metric_key", "day", "value"],
    )
    return rows


async def _history(conn: asyncpg.Connection, account: uuid.UUID) -> None:
    """A limit pack used in the term, a milestone in and one before the term, a target,
    an outcome measured by m1 and worth 50.00 a unit, and a benefit new this term."""
    await conn.execute(
        """insert into benefits (key, name, kind, metric_key, introduced_on)
           values ('m0_pack', 'M0 pack', 'limit', 'm0', '2025-01-01'),
                  ('fresh', 'Fresh', 'feature', null, $1)""",
        (NOW - timedelta(days=10)).date(),
    )
    await factories.grant(conn, account, "m0_pack", source="addon", amount=50)
    await conn.execute(
        """insert into usage_counters (account_id, metric_key, period_start, period_end, value)
           values ($1, 'm0', $2, $3, 130)""",
        account,
        TERM_START,
        TERM_END,
    )
    await conn.execute(
        """insert into milestones (key, name, kind, metric_key, threshold, repeatable,
                                   created_at) values ('busy', 'Busy', 'usage_threshold', 'm0', 10,
                                   true, $1)""",
        NOW - timedelta(days=400),
    )
    await conn.executemany(
        "insert into achievements values (gen_random_uuid(), $1, 'busy', $2, $3)",
        [(account, "before", TERM_START - timedelta(days=2)), (account, "in", NOW)],
    )
    await conn.execute(
        """update outcomes set metric_key = 'm1', value_per_unit_cents = 5000,
           value_currency = 'USD' where key = 'hours_saved'"""
    )
    await conn.execute(
        """insert into outcome_targets values ($1, 'hours_saved', 1000, $2, $3, '', 'ops', $4)""",
        account,
        (TERM_START - timedelta(days=30)).date(),  # before the term: counted from its start
        (NOW + timedelta(days=30)).date(),
        NOW,
    )


def _sum(values: dict[date, float], start: date, end: date) -> float:
    return sum(v for d, v in values.items() if start <= d <= end)


async def test_a_full_term_summary_matches_the_raw_rows(api: Api, conn: asyncpg.Connection) -> None:
    catalog = await factories.catalog(conn)
    account = await factories.account(conn, catalog["versions"]["basic"])
    await _annual_term(conn, account)
    daily = await _daily(conn, account)
    await _history(conn, account)
    await conn.execute(
        """insert into usage_counters (account_id, metric_key, period_start, period_end, value)
           values ($1, 'm1', $2, $3, 1234)""",
        account,
        TERM_START,
        TERM_END,
    )

    data = await api.data(
        SUMMARY, {"id": str(account), "period": "TERM"}, auth=frontend_token(account)
    )
    found = data["impactSummary"]

    start, end = TERM_START.date(), NOW.date()
    assert (found["from"], found["to"]) == (start.isoformat(), end.isoformat())
    metrics = {m["metric"]["key"]: m for m in found["metrics"]}
    # Counted per billing period, a metric's value over the term is its term's counter
    # (its first day's buckets hold usage from before the term's noon start too); its
    # months are its daily buckets.
    assert (metrics["m0"]["value"], metrics["m1"]["value"]) == (130, 1234)
    for key in ("m0", "m1"):
        months = metrics[key]["months"]
        assert sum(m["total"] for m in months) == _sum(daily[key], start, end)
        for month in months:
            first = date.fromisoformat(month["month"])
            last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            assert month["total"] == _sum(daily[key], max(first, start), min(last, end))
            in_month = [
                v for d, v in daily[key].items() if max(first, start) <= d <= min(last, end)
            ]
            assert month["peak"] == max(in_month)
    # Tier limit 100 plus the pack's 50; the term's counter took 130.
    assert (metrics["m0"]["limit"], metrics["m0"]["peakPercent"]) == (150, 86.67)
    assert [p["value"] for p in metrics["m0"]["periods"]] == [130]

    assert [(m["milestoneKey"], m["occurrence"]) for m in found["milestones"]] == [("busy", "in")]
    assert found["benefitsUsed"] == [
        {"grant": {"benefit": {"key": "m0_pack"}, "source": "ADDON"}, "used": 30.0}
    ]

    (outcome,) = found["outcomes"]
    delivered = 1234  # m1's term value
    target_actual = _sum(daily["m1"], start, end)
    assert outcome["delivered"] == delivered
    assert (outcome["target"], outcome["targetActual"]) == (1000, target_actual)
    assert outcome["percent"] == round(target_actual / 1000 * 100, 2)
    assert outcome["met"] is (target_actual >= 1000)
    assert outcome["value"] == {"amountCents": round(delivered * 5000), "currency": "USD"}
    assert found["valueDelivered"] == outcome["value"]

    assert found["newSince"] == start.isoformat()
    assert [b["key"] for b in found["newBenefits"]] == ["fresh"]


async def test_ranges_are_checked_and_accounts_stay_private(
    api: Api, conn: asyncpg.Connection
) -> None:
    catalog = await factories.catalog(conn)
    account = await factories.account(conn, catalog["versions"]["basic"])
    other = await factories.account(conn, catalog["versions"]["basic"])
    admin = await api_key(conn)

    async def ask(variables: dict[str, Any], auth: str = admin) -> Any:
        return (await api.data(SUMMARY, {"id": str(account), **variables}, auth=auth))[
            "impactSummary"
        ]

    # Usage today only, of a metric that measures an outcome: both count this quarter and
    # must not show up in the first one.
    await conn.execute(
        "insert into usage_daily (account_id, metric_key, day, value) values ($1, 'm0', $2, 5)",
        account,
        NOW.date(),
    )
    await conn.execute("update outcomes set metric_key = 'm0' where key = 'hours_saved'")
    quarter = await ask({"period": "QUARTER"})
    assert (quarter["from"], quarter["to"]) == ("2026-10-01", NOW.date().isoformat())
    assert [m["metric"]["key"] for m in quarter["metrics"]] == ["m0"]
    assert [o["outcome"]["key"] for o in quarter["outcomes"]] == ["hours_saved"]
    dates = await ask({"from": "2026-01-01", "to": "2026-03-31"})
    assert (dates["from"], dates["to"]) == ("2026-01-01", "2026-03-31")
    assert dates["metrics"] == [] and dates["outcomes"] == []
    assert (await ask({"period": "TERM", "from": "2026-01-01"}))["field"] == "period"
    assert (await ask({}))["field"] == "period"
    assert (await ask({"from": "2026-01-01"}))["field"] == "to"
    assert (await ask({"from": "2026-03-01", "to": "2026-01-01"}))["field"] == "to"
    assert (await ask({"from": "2020-01-01", "to": "2026-01-01"}))["field"] == "to"
    assert (await ask({"period": "TERM"}, frontend_token(other)))["code"] == "NOT_FOUND"
    partner = await api_key(conn, Role.PARTNER, await factories.partner(conn))
    assert (await ask({"period": "TERM"}, partner))["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("start", "end"), [("9997-01-01", "9999-12-30"), ("9998-01-01", "9998-01-02")]
)
async def test_a_range_near_the_last_date_is_summarised_not_failed(
    api: Api, conn: asyncpg.Connection, start: str, end: str
) -> None:
    # Three years after a date past 9996 is past year 9999, which no date holds: the
    # bound's own date failed the request ("Unexpected error.") for every range there.
    catalog = await factories.catalog(conn)
    account = await factories.account(conn, catalog["versions"]["basic"])
    admin = await api_key(conn)

    found = (await api.data(SUMMARY, {"id": str(account), "from": start, "to": end}, auth=admin))[
        "impactSummary"
    ]

    assert (found["from"], found["to"], found["metrics"]) == (start, end, [])


async def test_outcome_values_are_set_by_internal_tools_and_audited(
    api: Api, conn: asyncpg.Connection
) -> None:
    await factories.catalog(conn)
    admin = await api_key(conn)
    set_value = """mutation($cents: Int, $currency: String, $key: String!) {
      outcomeValueSet(outcome: "hours_saved", amountCents: $cents, currency: $currency,
                      idempotencyKey: $key) {
        __typename
        ... on OutcomeValueSet { outcome { valuePerUnit { amountCents currency } } replayed }
        ... on InvalidInputError { field }
        ... on Error { code }
      } }"""

    done = await api.data(set_value, {"cents": 7500, "currency": "EUR", "key": "a"}, auth=admin)
    assert done["outcomeValueSet"]["outcome"]["valuePerUnit"] == {
        "amountCents": 7500,
        "currency": "EUR",
    }
    bad = await api.data(set_value, {"cents": 5, "currency": None, "key": "b"}, auth=admin)
    assert bad["outcomeValueSet"]["field"] == "currency"
    token = frontend_token(uuid.uuid4())
    refused = await api.data(set_value, {"cents": 1, "currency": "USD", "key": "c"}, auth=token)
    assert refused["outcomeValueSet"]["code"] == "FORBIDDEN"
    cleared = await api.data(set_value, {"cents": None, "currency": None, "key": "d"}, auth=admin)
    assert cleared["outcomeValueSet"]["outcome"]["valuePerUnit"] is None
    actions = await conn.fetch("select action from audit_log order by id")
    assert [r["action"] for r in actions] == ["outcome.value_set", "outcome.value_set"]


async def test_a_value_delivered_beyond_a_32_bit_int_is_carried_exactly(
    api: Api, conn: asyncpg.Connection
) -> None:
    """10^15 hours saved at $75 are 7.5e18 cents: as a GraphQL Int (32 bits) the summary
    failed. `cents` carries it exactly; `amountCents` answers null rather than fail, and
    keeps answering amounts it can carry."""
    catalog = await factories.catalog(conn)
    account = await factories.account(conn, catalog["versions"]["basic"])
    admin = await api_key(conn)
    await conn.execute("update outcomes set metric_key = 'm0' where key = 'hours_saved'")
    set_value = """mutation { outcomeValueSet(outcome: "hours_saved", amountCents: 7500,
      currency: "USD", idempotencyKey: "v") {
        ... on OutcomeValueSet { outcome { valuePerUnit { amountCents cents } } } } }"""
    valued = (await api.data(set_value, auth=admin))["outcomeValueSet"]
    assert valued["outcome"]["valuePerUnit"] == {"amountCents": 7500, "cents": "7500"}
    await conn.execute(
        "insert into usage_daily (account_id, metric_key, day, value) values ($1, 'm0', $2, 1e15)",
        account,
        NOW.date(),
    )
    query = SUMMARY.replace(
        "valueDelivered { amountCents currency }", "valueDelivered { amountCents cents currency }"
    )
    asked = {"id": str(account), "period": "QUARTER"}
    summary = (await api.data(query, asked, auth=admin))["impactSummary"]
    assert summary["valueDelivered"] == {
        "amountCents": None,
        "cents": "7500000000000000000",
        "currency": "USD",
    }
    [outcome] = summary["outcomes"]
    assert outcome["value"] == {"amountCents": None, "currency": "USD"}
