"""Grant input an outside probe found accepted: an amount on a benefit granted without one,
a start in the year 9999, a fraction of a metric that counts whole events."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import Api
from tests.fixtures.entitlements_api import CHANGED, CREATE, UPDATE, create_vars, setup

STARTING = f"""
mutation Starting($id: ID!, $benefit: String!, $key: String!, $amount: Float,
                  $from: DateTime) {{
  grantCreate(accountId: $id, benefit: $benefit, source: MANUAL, idempotencyKey: $key,
              amount: $amount, validFrom: $from) {{ {CHANGED} }}
}}
"""
OVERRIDE = f"""
mutation Override($id: ID!, $metric: String!, $included: Float!, $key: String!) {{
  limitOverride(accountId: $id, metric: $metric, included: $included, idempotencyKey: $key)
  {{ {CHANGED} }}
}}
"""


async def nothing_written(conn: asyncpg.Connection) -> None:
    for table in ("grants", "audit_log", "events", "idempotency_keys"):
        assert await conn.fetchval(f"select count(*) from {table}") == 0, table  # noqa: S608


async def with_count_metrics(conn: asyncpg.Connection) -> None:
    """`calls` counts events and `users` distinct users, each with a limit benefit; a
    credit is drawn through `calls`."""
    await conn.executemany(
        """insert into metrics (key, name, unit, aggregation, reset, unique_property)
           values ($1, $1, 'things', $2, 'billing_period', $3)""",
        [("calls", "count", None), ("users", "unique_count", "user")],
    )
    await conn.executemany(
        """insert into benefits (key, name, kind, metric_key, introduced_on)
           values ($1, $1, $2, $3, '2025-01-01')""",
        [
            ("more_calls", "limit", "calls"),
            ("more_users", "limit", "users"),
            ("call_credit", "credit", "calls"),
            ("sso_saml", "feature", None),
            ("priority_support", "support", None),
        ],
    )


async def test_an_amount_for_a_benefit_granted_without_one_is_refused(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    await with_count_metrics(conn)
    for i, benefit in enumerate(["sso_saml", "priority_support", "b2"]):
        variables = create_vars(account_id, key=f"k{i}", benefit=benefit, amount=5)
        result = (await api.data(CREATE, variables, auth=key))["grantCreate"]
        assert (result["code"], result["field"]) == ("INVALID_INPUT", "amount"), benefit
        assert "granted without an amount" in result["message"]
    await nothing_written(conn)

    # Without an amount it is granted, and the grant may not be given one later.
    made = await api.data(CREATE, create_vars(account_id, benefit="sso_saml"), auth=key)
    grant = made["grantCreate"]["grant"]
    assert grant["amount"] is None
    edit = {"grant": grant["id"], "version": 1, "key": "u1", "amount": 5}
    refused = (await api.data(UPDATE, edit, auth=key))["grantUpdate"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "amount")
    cleared = await api.data(UPDATE, {**edit, "key": "u2", "amount": None}, auth=key)
    assert cleared["grantUpdate"]["grant"]["version"] == 2


async def test_a_start_more_than_a_year_from_now_is_refused(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    starts = ["9999-12-31T23:59:59Z", "2027-11-17T12:00:00Z", "2025-11-13T12:00:00Z"]
    for i, start in enumerate(starts):  # now: 2026-11-15T12:00:00Z
        variables = {"id": str(account_id), "benefit": "b2", "key": f"s{i}", "from": start}
        result = (await api.data(STARTING, variables, auth=key))["grantCreate"]
        assert (result["code"], result["field"]) == ("INVALID_INPUT", "validFrom"), start
        assert "within a year of now" in result["message"]
    await nothing_written(conn)

    for i, start in enumerate(["2027-11-15T12:00:00Z", "2025-11-15T12:00:00Z"]):
        variables = {"id": str(account_id), "benefit": "b2", "key": f"ok{i}", "from": start}
        result = (await api.data(STARTING, variables, auth=key))["grantCreate"]
        assert result["__typename"] == "GrantChanged", start


async def test_a_fraction_of_a_metric_that_counts_is_refused_and_sums_keep_theirs(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    await with_count_metrics(conn)
    refusals: list[tuple[str, dict[str, Any], str]] = [
        ("grantCreate", {"benefit": "more_calls", "amount": 0.5}, "amount"),
        ("grantCreate", {"benefit": "more_users", "amount": 2.25}, "amount"),
        ("grantCreate", {"benefit": "call_credit", "amount": 1.5}, "amount"),
    ]
    for i, (field_name, change, field) in enumerate(refusals):
        variables = {**create_vars(account_id, key=f"f{i}"), **change}
        result = (await api.data(CREATE, variables, auth=key))[field_name]
        assert (result["code"], result["field"]) == ("INVALID_INPUT", field), change
        assert "whole number" in result["message"]
    for i, metric in enumerate(["calls", "users"]):
        variables = {"id": str(account_id), "metric": metric, "included": 5.5, "key": f"o{i}"}
        result = (await api.data(OVERRIDE, variables, auth=key))["limitOverride"]
        assert (result["code"], result["field"]) == ("INVALID_INPUT", "included"), metric
    await nothing_written(conn)

    whole = create_vars(account_id, key="w1", benefit="more_calls", amount=5)
    grant = (await api.data(CREATE, whole, auth=key))["grantCreate"]["grant"]
    assert grant["amount"] == 5
    edit = {"grant": grant["id"], "version": 1, "key": "w2", "amount": 7.5}
    refused = (await api.data(UPDATE, edit, auth=key))["grantUpdate"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "amount")
    # m0 is a sum: a fraction of it means what it says.
    fraction = create_vars(account_id, key="w3", benefit="m0_more", amount=0.5)
    assert (await api.data(CREATE, fraction, auth=key))["grantCreate"]["grant"]["amount"] == 0.5
    override = {"id": str(account_id), "metric": "m0", "included": 5.5, "key": "w4"}
    result = (await api.data(OVERRIDE, override, auth=key))["limitOverride"]
    assert result["grant"]["amount"] == 5.5
    calls = {"id": str(account_id), "metric": "calls", "included": 6, "key": "w5"}
    assert (await api.data(OVERRIDE, calls, auth=key))["limitOverride"]["grant"]["amount"] == 6
