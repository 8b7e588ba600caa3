"""The catalog's rules of input an outside probe found open: how far ahead a version may be
published, which currencies a price may be in, and whole numbers for metrics that count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.common.currencies import CURRENCIES
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.audit_api import ROLLBACK
from tests.fixtures.catalog_api import basic_v2, draft, publish
from tests.fixtures.factories import NOW

DISCARD = """mutation($id: ID!) { tierVersionDiscard(id: $id, idempotencyKey: "discard") {
  __typename ... on InvalidInputError { field } ... on Error { code } } }"""
OUTCOME = """mutation($cur: String!, $key: String!) {
  outcomeCreate(key: "calls_automated", name: "Calls automated", unit: "calls",
    direction: INCREASE, valuePerUnitCents: 25, valueCurrency: $cur, idempotencyKey: $key) {
    __typename ... on InvalidInputError { field } ... on Error { code } } }"""
OUTCOME_VALUE = """mutation($cur: String!, $key: String!) {
  outcomeValueSet(outcome: "hours_saved", amountCents: 100, currency: $cur, idempotencyKey: $key) {
    __typename ... on InvalidInputError { field } ... on Error { code } } }"""


async def written(conn: asyncpg.Connection) -> dict[str, int]:
    tables = ("tier_versions", "outcomes", "audit_log", "events", "idempotency_keys")
    return {t: await conn.fetchval(f"select count(*) from {t}") for t in tables}  # noqa: S608


async def test_a_publish_more_than_a_year_ahead_is_refused_and_writes_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    v2 = (await basic_v2(api, key))["tierVersion"]["id"]
    before = await written(conn)

    # A mistyped year was SCHEDULED, and then blocked every later version of the tier.
    for i, at in enumerate(["9999-12-31T23:59:59Z", (NOW + timedelta(days=367)).isoformat()]):
        refused = await publish(api, key, v2, at, idem=f"far{i}")
        assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "effectiveFrom"), at
        assert "within a year of now" in refused["message"]
    assert await written(conn) == before

    # A year ahead is the bound's own edge, as a subscription's start.
    edge = (NOW + timedelta(days=366)).isoformat()
    scheduled = (await publish(api, key, v2, edge, idem="edge"))["tierVersion"]
    assert (scheduled["version"], scheduled["status"]) == (2, "SCHEDULED")


async def test_a_scheduled_version_stays_but_a_later_one_from_the_same_instant_replaces_it(
    conn: asyncpg.Connection, api: Api
) -> None:
    """No withdrawal of a scheduled version: it is published, so neither a discard nor a
    rollback removes it. A later version may take effect at the same instant, and the
    newest in force wins from then."""
    await factories.catalog(conn)
    key = await api_key(conn)
    at = (NOW + timedelta(days=30)).isoformat()
    v2 = (await basic_v2(api, key))["tierVersion"]["id"]
    published = await publish(api, key, v2, at, idem="p2")
    discarded = (await api.data(DISCARD, {"id": v2}, auth=key))["tierVersionDiscard"]
    assert (discarded["code"], discarded["field"]) == ("INVALID_INPUT", "id")
    rollback = {"entry": published["auditEntryId"], "key": "undo"}
    undone = (await api.data(ROLLBACK, rollback, auth=key))["auditRollback"]
    assert undone["code"] == "INVALID_INPUT"
    assert "cannot be rolled back" in undone["message"]

    v3 = (await draft(api, key, {"tier": "basic", "basedOn": 2}, idem="v3"))["tierVersion"]["id"]
    replaced = (await publish(api, key, v3, at, idem="p3"))["tierVersion"]
    assert (replaced["version"], replaced["status"]) == (3, "SCHEDULED")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "ZZZ"}, "currency"),  # three capitals, on no list
        ({"currency": "HRK"}, "currency"),  # withdrawn: Croatia uses the euro since 2023
        ({"currency": "XXX"}, "currency"),  # "no currency": nothing a price is in
        ({"currency": "usd"}, "currency"),
    ],
)
async def test_a_currency_that_is_not_an_active_iso_4217_code_is_refused(
    conn: asyncpg.Connection, api: Api, change: dict[str, Any], field: str
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    before = await written(conn)

    result = await draft(api, key, {"tier": "basic", "basedOn": 1, **change})

    assert (result["code"], result["field"]) == ("INVALID_INPUT", field), result
    assert await written(conn) == before


async def test_outcome_values_take_active_currencies_only(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    before = await written(conn)
    made = (await api.data(OUTCOME, {"cur": "ZZZ", "key": "o1"}, auth=key))["outcomeCreate"]
    valued = (await api.data(OUTCOME_VALUE, {"cur": "ZZZ", "key": "v1"}, auth=key))[
        "outcomeValueSet"
    ]
    assert (made["code"], made["field"]) == ("INVALID_INPUT", "valuePerUnit")
    assert (valued["code"], valued["field"]) == ("INVALID_INPUT", "currency")
    assert await written(conn) == before
    made = (await api.data(OUTCOME, {"cur": "CHF", "key": "o2"}, auth=key))["outcomeCreate"]
    valued = (await api.data(OUTCOME_VALUE, {"cur": "JPY", "key": "v2"}, auth=key))[
        "outcomeValueSet"
    ]
    assert (made["__typename"], valued["__typename"]) == ("OutcomeChanged", "OutcomeValueSet")


def test_the_currency_list_holds_three_letter_codes_only() -> None:
    # A code run into its neighbour ("BRLBSD") would refuse both without a word.
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in CURRENCIES)
    assert {"USD", "EUR", "JPY", "GBP", "CHF", "XCG", "ZWG"} <= CURRENCIES
    assert len(CURRENCIES) == 179


async def metrics_of_every_aggregation(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        """insert into metrics (key, name, unit, aggregation, reset, unique_property)
           values ($1, $1, 'things', $2, 'billing_period', $3)""",
        [
            ("calls", "count", None),
            ("users", "unique_count", "user"),
            ("storage", "max", None),
            ("level", "latest", None),
        ],
    )
    await conn.execute(
        """insert into outcomes (key, name, unit, direction, description, metric_key)
           values ('tickets', 'Tickets', 'tickets', 'decrease', '', 'calls')"""
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"limits": [{"metric": "calls", "enforcement": "HARD", "included": 0.5}]}, "limits[0]"),
        ({"limits": [{"metric": "users", "enforcement": "SOFT", "included": 5.5}]}, "limits[0]"),
        ({"outcomes": [{"outcome": "tickets", "target": 2.5}]}, "outcomes[0].target"),
    ],
)
async def test_a_fraction_of_a_metric_that_counts_is_refused_in_a_draft(
    conn: asyncpg.Connection, api: Api, change: dict[str, Any], field: str
) -> None:
    await factories.catalog(conn)
    await metrics_of_every_aggregation(conn)
    key = await api_key(conn)
    before = await written(conn)

    result = await draft(api, key, {"tier": "basic", "basedOn": 1, **change})

    expected = f"{field}.included" if field.startswith("limits") else field
    assert (result["code"], result["field"]) == ("INVALID_INPUT", expected), result
    assert "whole number" in result["message"]
    assert await written(conn) == before


@pytest.mark.parametrize("target", [-1, -0.5, -(10**15)])
async def test_a_tier_outcome_target_below_zero_is_refused_in_a_draft(
    conn: asyncpg.Connection, api: Api, target: float
) -> None:
    # As `outcomeTargetSet` refuses one for an account: a target is an amount to reach.
    await factories.catalog(conn)
    await metrics_of_every_aggregation(conn)
    key = await api_key(conn)
    before = await written(conn)

    outcomes = [{"outcome": "tickets", "target": target}]
    result = await draft(api, key, {"tier": "basic", "basedOn": 1, "outcomes": outcomes})

    assert (result["code"], result["field"]) == ("INVALID_INPUT", "outcomes[0].target"), result
    assert "0, or from 10^-12 to 10^15" in result["message"]
    assert await written(conn) == before


async def test_sums_and_gauges_keep_fractions_and_counts_take_whole_numbers(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    await metrics_of_every_aggregation(conn)
    key = await api_key(conn)
    limits = [
        {"metric": "m0", "enforcement": "HARD", "included": 0.5},  # a sum
        {"metric": "storage", "enforcement": "HARD", "included": 2.5},
        {"metric": "level", "enforcement": "SOFT", "included": 0.75},
        {"metric": "calls", "enforcement": "HARD", "included": 5.0},
        {"metric": "users", "enforcement": "HARD", "included": 0},
    ]
    outcomes = [{"outcome": "hours_saved", "target": 1.5}, {"outcome": "tickets", "target": 3}]
    spec = {"tier": "basic", "basedOn": 1, "limits": limits, "outcomes": outcomes}

    result = await draft(api, key, spec)

    assert result["__typename"] == "TierVersionChanged", result
    included = {
        lim["metric"]["key"]: lim["included"] for lim in result["tierVersion"]["tier"]["limits"]
    }
    assert included == {"m0": 0.5, "storage": 2.5, "level": 0.75, "calls": 5, "users": 0}
