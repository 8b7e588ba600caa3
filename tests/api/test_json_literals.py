"""A JSON literal holding variables takes the request's values: an object's field whose
variable is unset is left out (as GraphQL leaves out an input object's field), a list's
item whose variable is unset is null (its place kept), and a null variable is null. On
every mutation that takes a JSON argument: account metadata (create and update), a tier
version's benefit parameters, a usage event's properties.

graphql-core's untyped reading left an unset variable as its `Undefined` inside the
value: `accountCreate(metadata: {a: $v})` sent without `v` answered "Unexpected error."
(the idempotency hash could not encode it), and so did `accountUpdate` and
`tierVersionDraft`."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.factories import NOW

LITERAL = "{a: $v, b: {c: $v, d: [$v, 1, {e: $v, f: 2}]}, g: [[$v]], h: $w}"
# (variables, the value the literal stands for)
CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {"b": {"d": [None, 1, {"f": 2}]}, "g": [[None]]}),
    (
        {"v": "x", "w": 3},
        {"a": "x", "b": {"c": "x", "d": ["x", 1, {"e": "x", "f": 2}]}, "g": [["x"]], "h": 3},
    ),
    (
        {"v": None, "w": None},
        {
            "a": None,
            "b": {"c": None, "d": [None, 1, {"e": None, "f": 2}]},
            "g": [[None]],
            "h": None,
        },
    ),
    ({"w": 0}, {"b": {"d": [None, 1, {"f": 2}]}, "g": [[None]], "h": 0}),
]
DECLARED = "$v: String, $w: Int"
PROVISIONED = "... on AccountProvisioned { account { id version metadata } } ... on Error { code }"


def _result(response: Any, field: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    result: dict[str, Any] = body["data"][field]
    return result


# Account metadata is an object of strings: a literal of them, and the values it stands for
# (None: refused as INVALID_INPUT, a value that is not a string).
METADATA = '{a: $v, b: "k", c: $v}'
METADATA_CASES: list[tuple[dict[str, Any], dict[str, str] | None]] = [
    ({}, {"b": "k"}),
    ({"v": "x"}, {"a": "x", "b": "k", "c": "x"}),
    ({"v": None}, None),
]


async def _provision(api: Api, key: str, document: str, variables: dict[str, Any]) -> Any:
    response = await api.post(document, variables, auth=key)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return next(iter(body["data"].values()))


@pytest.mark.parametrize(("variables", "expected"), METADATA_CASES)
async def test_account_metadata_takes_the_variables_of_its_literal(
    conn: asyncpg.Connection,
    api: Api,
    variables: dict[str, Any],
    expected: dict[str, str] | None,
) -> None:
    key = await api_key(conn)
    created = await _provision(api, key, _create(METADATA, "$v: String"), variables)
    base = await _provision(api, key, _create('{b: "k"}', ""), {})
    sent = {**variables, "id": base["account"]["id"], "version": base["account"]["version"]}
    updated = await _provision(api, key, _update(METADATA, "$v: String"), sent)
    for result in (created, updated):
        if expected is None:
            assert result == {"code": "INVALID_INPUT"}, result
        else:
            assert result["account"]["metadata"] == expected, result


@pytest.mark.parametrize(("variables", "expected"), CASES)
async def test_account_metadata_nested_with_variables_is_a_typed_refusal(
    conn: asyncpg.Connection, api: Api, variables: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Metadata nests nothing: whatever the variables, a nested literal is INVALID_INPUT."""
    key = await api_key(conn)
    base = await _provision(api, key, _create('{b: "k"}', ""), {})
    sent = {**variables, "id": base["account"]["id"], "version": base["account"]["version"]}
    created = await _provision(api, key, _create(LITERAL, DECLARED), variables)
    updated = await _provision(api, key, _update(LITERAL, DECLARED), sent)
    assert created == updated == {"code": "INVALID_INPUT"}


def _create(metadata: str, declared: str) -> str:
    """accountCreate with `metadata`; its key is the literal's, so each literal creates."""
    return f"""mutation{f"({declared})" if declared else ""} {{
      accountCreate(name: "x", idempotencyKey: {json.dumps(metadata)}, metadata: {metadata}) {{
        {PROVISIONED} }} }}"""


def _update(metadata: str, declared: str) -> str:
    return f"""mutation($id: ID!, $version: Int!, {declared}) {{
      accountUpdate(id: $id, expectedVersion: $version, name: "y", idempotencyKey: "u",
                    metadata: {metadata}) {{ {PROVISIONED} }} }}"""


@pytest.mark.parametrize(("variables", "expected"), CASES)
async def test_benefit_parameters_take_the_variables_of_their_literal(
    conn: asyncpg.Connection, api: Api, variables: dict[str, Any], expected: dict[str, Any]
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    draft = f"""mutation({DECLARED}) {{
      tierVersionDraft(idempotencyKey: "d", draft: {{tier: "basic", basedOn: 1,
        benefits: [{{benefit: "b0", parameters: {LITERAL}}}]}}) {{
        ... on TierVersionChanged {{ tierVersion {{ tier {{ benefits {{ parameters }} }} }} }}
        ... on Error {{ code message }} }} }}"""
    changed = _result(await api.post(draft, variables, auth=key), "tierVersionDraft")
    assert changed["tierVersion"]["tier"]["benefits"] == [{"parameters": expected}], changed


RECORD = f"""mutation($id: ID!, $at: DateTime!, {DECLARED}) {{
  usageRecord(events: [{{eventId: "e1", accountId: $id, metric: "calls", value: 1,
                        occurredAt: $at, properties: {{region: $v, extra: {LITERAL}}}}}]) {{
    ... on UsageRecorded {{ accepted rejected }} ... on Error {{ code message }} }} }}"""
VIEW = """query($id: ID!) { account(id: $id) { ... on Account {
  usage(groupBy: ["region"]) { metric { key } groups { dimensions { name value } value } } } } }"""


@pytest.mark.parametrize(("variables", "expected"), CASES)
async def test_usage_properties_take_the_variables_of_their_literal(
    conn: asyncpg.Connection, api: Api, variables: dict[str, Any], expected: dict[str, Any]
) -> None:
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('calls', 'Calls', 'calls', 'sum', 'billing_period',"
        " '{region}')"
    )
    for version in cat["versions"].values():
        await conn.execute("insert into tier_limits values ($1, 'calls', 'hard', 1000)", version)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    sent = {**variables, "id": str(account_id), "at": NOW.isoformat()}
    recorded = _result(await api.post(RECORD, sent, auth=key), "usageRecord")
    assert recorded == {"accepted": 1, "rejected": 0}, recorded

    view = await api.data(VIEW, {"id": str(account_id)}, auth=key)
    (calls,) = [u for u in view["account"]["usage"] if u["metric"]["key"] == "calls"]
    # An unset or null region is no region: the group of null.
    region = variables.get("v")
    assert calls["groups"] == [{"dimensions": [{"name": "region", "value": region}], "value": 1}]
