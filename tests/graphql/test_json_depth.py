"""JSON values nested deeper than the service can send back are refused where they come in,
as variables or as literals, with a message that says so and nothing written; a value
kept deeper before the bound fails its own field, not the whole response.

orjson encodes at most 254 levels: a tier's benefit parameters nested 248 deep were
accepted, and then every query of the tiers' parameters was a plain-text 500, for every
caller; an account's metadata nested 252 deep was "Unexpected error.".
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from benefitgate.common.nesting import MAX_DEPTH
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.catalog_api import DRAFT

CREATE = """mutation($meta: JSON, $key: String!) {
  accountCreate(name: "Acme", metadata: $meta, idempotencyKey: $key) {
    __typename ... on Error { code message } } }"""
TIER_PARAMETERS = "{ tiers { key benefits { benefit { key } parameters } } }"
AUDIT = """query($action: String!) { auditLog(action: $action) {
  ... on AuditPage { entries { after } } } }"""


def nested(levels: int) -> Any:
    """A JSON value of `levels` arrays, one inside the other, around a string."""
    value: Any = "deep"
    for _ in range(levels):
        value = [value]
    return value


def literal(value: Any) -> str:
    """`value` as a GraphQL literal (JSON with unquoted keys reads the same for these)."""
    return json.dumps(value)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 248, 600])
async def test_a_variable_nested_too_deep_is_refused_and_nothing_is_written(
    conn: asyncpg.Connection, api: Api, levels: int
) -> None:
    key = await api_key(conn)
    response = await api.post(CREATE, {"meta": {"a": nested(levels - 1)}, "key": "k"}, auth=key)
    body = response.json()

    assert response.status_code in (200, 400), body
    assert "data" not in body or body["data"] is None, body
    messages = " ".join(e["message"] for e in body["errors"])
    assert f"nests deeper than {MAX_DEPTH} levels" in messages, body
    assert "Unexpected error" not in messages
    assert await conn.fetchval("select count(*) from accounts where name = 'Acme'") == 0


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, MAX_DEPTH + 10])
async def test_a_literal_nested_too_deep_is_refused_in_a_tier_draft(
    conn: asyncpg.Connection, api: Api, levels: int
) -> None:
    key = await api_key(conn)
    await factories.catalog(conn)
    document = f"""mutation {{ tierVersionDraft(idempotencyKey: "d", draft: {{
        tier: "basic", basedOn: 1,
        benefits: [{{benefit: "b0", parameters: {{x: {literal(nested(levels - 1))}}}}}]
    }}) {{ __typename }} }}"""
    before = await conn.fetchval("select count(*) from tier_versions")

    response = await api.post(document, auth=key)
    body = response.json()
    tiers = await api.post(TIER_PARAMETERS, auth=key)

    assert response.status_code in (200, 400), body
    assert f"nests deeper than {MAX_DEPTH} levels" in json.dumps(body), body
    assert await conn.fetchval("select count(*) from tier_versions") == before
    assert tiers.status_code == 200 and "errors" not in tiers.json(), tiers.text


async def test_parameters_nested_at_the_bound_are_kept_and_served_with_their_audit(
    conn: asyncpg.Connection, api: Api
) -> None:
    """What carries a value wraps it deeper: the draft's audit entry holds the parameters
    three levels down, and is served too."""
    key = await api_key(conn)
    await factories.catalog(conn)
    deepest = {"x": nested(MAX_DEPTH - 1)}
    spec = {"tier": "basic", "basedOn": 1, "benefits": [{"benefit": "b0", "parameters": deepest}]}

    drafted = await api.data(DRAFT, {"draft": spec, "key": "d"}, auth=key)
    kept = drafted["tierVersionDraft"]["tierVersion"]["tier"]["benefits"]
    audit = await api.post(AUDIT, {"action": "tier_version.drafted"}, auth=key)

    assert kept == [{"benefit": {"key": "b0"}, "parameters": deepest}]
    assert audit.status_code == 200 and "errors" not in audit.json(), audit.text
    entries = audit.json()["data"]["auditLog"]["entries"]
    assert [e["after"]["benefits"][0]["parameters"] for e in entries] == [deepest]


async def test_a_value_kept_too_deep_before_fails_its_field_not_the_response(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Parameters kept before the bound (or written around the API) nested past what the
    encoder takes: a 200 with a coded error on that value's path (the tiers are non-null,
    so the error nulls `data`), not a plain-text 500 for every caller."""
    key = await api_key(conn)
    cat = await factories.catalog(conn)
    async with conn.transaction():  # past the trigger that keeps published versions
        await conn.execute("set local session_replication_role = replica")
        await conn.execute(
            "update tier_benefits set parameters = $1::text::jsonb where tier_version_id = $2",
            json.dumps({"x": nested(300)}),
            cat["versions"]["pro"],
        )

    response = await api.post(TIER_PARAMETERS, auth=key)
    body = response.json()

    assert response.status_code == 200, response.text
    paths = [e.get("path") for e in body["errors"]]
    assert paths and all(p[0] == "tiers" and p[-1] == "parameters" for p in paths), body
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNSERVABLE_VALUE"}, body


async def test_an_idempotent_replay_of_a_refused_request_is_refused_again(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    variables = {"meta": {"a": nested(MAX_DEPTH)}, "key": uuid.uuid4().hex}

    first = (await api.post(CREATE, variables, auth=key)).json()
    again = (await api.post(CREATE, variables, auth=key)).json()

    assert first["errors"][0]["message"] == again["errors"][0]["message"]
    assert "nests deeper" in first["errors"][0]["message"]
