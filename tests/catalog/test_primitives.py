"""Metrics and outcomes created and changed by internal tools: audited, announced, read
back from the catalog at once; a metric's aggregation is fixed once usage of it is
counted."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from benefitgate.catalog.drafts import check_text
from benefitgate.common.changes import InvalidChange
from tests.conftest import Api, api_key
from tests.fixtures import factories

METRIC = """mutation($op: String!) {{ {op}(key: "api_calls", name: "API calls", unit: "calls",
  aggregation: {agg}, reset: CALENDAR_MONTH, idempotencyKey: "{key}") {{ __typename
  ... on MetricChanged {{ metric {{ key aggregation reset }} }}
  ... on InvalidInputError {{ field }} ... on Error {{ code }} }} }}"""
OUTCOME = """mutation($metric: String, $cents: Int, $cur: String, $key: String!) {
  outcomeCreate(key: "calls_automated", name: "Calls automated", unit: "calls",
    direction: INCREASE, metric: $metric, valuePerUnitCents: $cents, valueCurrency: $cur,
    idempotencyKey: $key) { __typename
    ... on OutcomeChanged { outcome { key metric { key } valuePerUnit { amountCents } } }
    ... on InvalidInputError { field } ... on Error { code } } }"""


async def _metric(api: Api, key: str, op: str, agg: str) -> Any:
    doc = METRIC.replace("($op: String!)", "").format(op=op, agg=agg, key=uuid.uuid4().hex)
    return next(iter((await api.data(doc, {}, auth=key)).values()))


async def test_metrics_and_outcomes_are_created_and_read_back(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    created = await _metric(api, key, "metricCreate", "SUM")
    twice = await _metric(api, key, "metricCreate", "SUM")
    unknown = await api.data(OUTCOME, {"metric": "nope", "key": "o0"}, auth=key)
    outcome = await api.data(
        OUTCOME, {"metric": "api_calls", "cents": 25, "cur": "EUR", "key": "o1"}, auth=key
    )
    half = await api.data(OUTCOME, {"metric": None, "cents": 25, "key": "o2"}, auth=key)
    audit = [r["action"] for r in await conn.fetch("select action from audit_log order by id")]
    events = [r["type"] for r in await conn.fetch("select type from events order by id")]

    assert created["metric"] == {
        "key": "api_calls",
        "aggregation": "SUM",
        "reset": "CALENDAR_MONTH",
    }
    assert twice["code"] == "ALREADY_EXISTS"
    assert unknown["outcomeCreate"]["field"] == "metric"
    assert outcome["outcomeCreate"]["outcome"] == {
        "key": "calls_automated",
        "metric": {"key": "api_calls"},
        "valuePerUnit": {"amountCents": 25},
    }
    assert (
        half["outcomeCreate"]["__typename"] == "AlreadyExistsError"
        or half["outcomeCreate"]["field"] == "valuePerUnit"
    )
    assert audit == ["metric.created", "outcome.created"]
    assert events == ["catalog.metric_created", "catalog.outcome_created"]


async def test_an_aggregation_is_fixed_once_usage_is_counted(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    await _metric(api, key, "metricCreate", "SUM")
    changed = await _metric(api, key, "metricUpdate", "MAX")  # nothing counted yet
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await factories.usage(conn, account, "api_calls", 3)
    refused = await _metric(api, key, "metricUpdate", "SUM")
    renamed = await _metric(api, key, "metricUpdate", "MAX")

    assert changed["metric"]["aggregation"] == "MAX"
    assert (refused["__typename"], refused["field"]) == ("InvalidInputError", "aggregation")
    assert renamed["__typename"] == "MetricChanged"


PADDED = """mutation($name: String!, $unit: String!, $key: String!) {
  metricCreate(key: "padded", name: $name, unit: $unit, aggregation: SUM,
    reset: CALENDAR_MONTH, idempotencyKey: $key) { __typename
    ... on MetricChanged { metric { name unit } }
    ... on InvalidInputError { field } ... on Error { code } } }"""


@pytest.mark.parametrize("shortest", [0, 1])
def test_a_catalog_text_is_bounded_as_stored_blanks_included(shortest: int) -> None:
    """Blanks do not count towards the least a text must hold, but the value is stored as
    given, so they count towards the most: a short name padded with 100,000 blanks and
    line breaks was stored as a "1 to 200 characters" name."""
    check_text("name", "x" * 200, shortest, 200)
    check_text("name", "  x  ", shortest, 200)
    for padded in ("x" + " " * 200, "x" * 200 + "\n", " " * 201, "x" + "\n" * 100_000):
        with pytest.raises(InvalidChange):
            check_text("name", padded, shortest, 200)
    if shortest:
        for blank in ("   ", "\u200b", " \u2060\ufeff ", "\u200e\u3000"):
            with pytest.raises(InvalidChange):
                check_text("name", blank, shortest, 200)


async def test_a_metric_name_padded_past_its_bound_is_refused(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    for name, unit, field in [
        ("Padded" + " " * 50_000, "u", "name"),
        ("P", "u" + "\n" * 101, "unit"),
    ]:
        refused = await api.data(
            PADDED, {"name": name, "unit": unit, "key": uuid.uuid4().hex}, auth=key
        )
        assert refused["metricCreate"]["field"] == field
    for name, unit, field in [("\u200b", "u", "name"), ("P", "\u2060\ufeff", "unit")]:
        refused = await api.data(
            PADDED, {"name": name, "unit": unit, "key": uuid.uuid4().hex}, auth=key
        )
        assert refused["metricCreate"]["field"] == field, (name, unit)
    made = await api.data(PADDED, {"name": "  Padded ", "unit": "u", "key": "k"}, auth=key)
    assert made["metricCreate"]["metric"]["name"] == "  Padded "
