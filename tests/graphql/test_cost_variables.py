"""The cost of an operation whose page sizes come from variables is the cost of the values
the request sends, as execution coerces them: for every argument the estimate counts
(each field taking `first`), at the root and nested, with and without defaults, unset,
null and of the wrong type; and on every path a request takes (POST, GET, a trusted
document by id, the response cache in front). The variable's default, which the client
writes, was counted instead: an admin ran 734 KB of accounts with audit trails and usage
series past a ceiling the same document with literals was refused at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.graphql.cost import COST_LIMIT_EXCEEDED, cost_rule, request_cost_error
from benefitgate.graphql.documents import Document, Manifest, document_id
from benefitgate.graphql.schema import build_schema
from graphql import GraphQLObjectType, get_named_type, is_required_argument, parse, validate
from tests.conftest import MakeApi, api_key

SCHEMA = build_schema(max_depth=20, max_tokens=5_000, max_aliases=50, suggestions=False)
RULE = cost_rule("test", -1)  # below any cost: every operation is refused, naming its cost
NO_ACCOUNT = '"00000000-0000-0000-0000-000000000000"'
REQUIRED = {"ID": NO_ACCOUNT, "Int": "30"}  # literals for the other required arguments
# Where each type with a paging field is reached from: the root, or an account of a page.
WITHIN = {
    "Query": "{}",
    "Account": "accounts(first: OUTER) { ... on AccountConnection { edges { node { {} } } } }",
}


def paging_fields() -> Iterator[tuple[str, str, str]]:
    """Every field the estimate sizes by `first`: its type, name, and its selection with
    `first: INNER` (the other required arguments written in)."""
    for named in SCHEMA._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for name, field in named.fields.items():
            if "first" not in field.args:
                continue
            required = [
                f"{arg}: {REQUIRED[get_named_type(a.type).name]}"
                for arg, a in field.args.items()
                if arg != "first" and is_required_argument(a)
            ]
            arguments = ", ".join(["first: INNER", *required])
            yield named.name, name, f"{name}({arguments}) {{ __typename }}"


FIELDS = list(paging_fields())
NESTED = [field for field in FIELDS if field[0] != "Query"]


def document(type_name: str, selection: str, declared: str, outer: str, inner: str) -> str:
    body = WITHIN[type_name].replace("{}", selection).replace("OUTER", outer)
    return f"query{declared} {{ {body.replace('INNER', inner)} }}"


def literal_cost(text: str) -> int:
    """The cost of a document with every page size written in: the validation rule's."""
    errors = validate(SCHEMA._schema, parse(text), [RULE])
    assert errors, text
    assert errors[0].extensions is not None
    cost: int = errors[0].extensions["cost"]
    return cost


def request_cost(text: str, variables: dict[str, Any]) -> int | None:
    """The cost of a document run with `variables`, as the schema judges each request
    (None: nothing judged, the variables do not coerce)."""
    document_node = parse(text)
    assert validate(SCHEMA._schema, document_node) == [], text  # valid but for the cost
    error = request_cost_error(RULE, SCHEMA._schema, document_node, None, variables)
    if error is None:
        return None
    assert error.extensions is not None
    cost: int = error.extensions["cost"]
    return cost


def test_every_paging_field_is_covered() -> None:
    """A paging field on another type needs a path in WITHIN, or this test misses it."""
    assert {t for t, _, _ in FIELDS} <= set(WITHIN)
    assert len(FIELDS) >= 9


# (declared, variables) -> the literal `first` they amount to (None: the argument omitted).
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("Int = 1", {"v": 100}, "100"),
    ("Int = 1", {"v": 37}, "37"),
    ("Int = 1", {"v": 0}, "0"),
    ("Int = 1", {"v": 100_000}, "100"),  # capped at the largest page, as a literal is
    ("Int! = 1", {"v": 64}, "64"),
    ("Int!", {"v": 9}, "9"),
    ("Int = 7", {}, "7"),  # unset: its default
    ("Int", {}, None),  # unset without a default: as if not given, the argument's default
    ("Int = 1", {"v": None}, "100"),  # null: refused as the field resolves; the largest
    ("Int", {"v": None}, "100"),
    ("Int = 1", {"v": 12.0}, "12"),  # coerced as execution coerces an Int
]


def _sized(selection: str, literal: str | None) -> str:
    if literal is not None:
        return selection
    return selection.replace("first: INNER, ", "").replace("(first: INNER)", "")


@pytest.mark.parametrize(("type_name", "name", "selection"), FIELDS)
@pytest.mark.parametrize(("declared", "variables", "literal"), CASES)
def test_a_page_size_from_a_variable_costs_what_the_request_sends(
    type_name: str,
    name: str,
    selection: str,
    declared: str,
    variables: dict[str, Any],
    literal: str | None,
) -> None:
    sent = document(type_name, selection, f"($v: {declared})", "100", "$v")
    written = document(type_name, _sized(selection, literal), "", "100", literal or "")
    assert request_cost(sent, variables) == literal_cost(written), (sent, variables)


@pytest.mark.parametrize(("type_name", "name", "selection"), NESTED)
def test_nested_page_sizes_from_variables_multiply(
    type_name: str, name: str, selection: str
) -> None:
    declared = "($n: Int = 1, $m: Int = 1)"
    sent = document(type_name, selection, declared, "$n", "$m")
    for n, m in [(100, 100), (1, 100), (100, 1), (3, 5)]:
        written = document(type_name, selection, "", str(n), str(m))
        assert request_cost(sent, {"n": n, "m": m}) == literal_cost(written)
    # One set, one unset (its default), one null (the largest page).
    unset = literal_cost(document(type_name, selection, "", "2", "1"))
    assert request_cost(sent, {"n": 2}) == unset
    null = literal_cost(document(type_name, selection, "", "100", "4"))
    assert request_cost(sent, {"n": None, "m": 4}) == null


def test_variables_that_do_not_coerce_are_left_to_execution() -> None:
    sent = document("Query", "accounts(first: $v) { __typename }", "($v: Int = 1)", "", "")
    for wrong in ("100", [100], {"a": 1}, 1.5, 2**40, True):
        assert request_cost(sent, {"v": wrong}) is None, wrong
    required = document("Query", "accounts(first: $v) { __typename }", "($v: Int!)", "", "")
    assert request_cost(required, {}) is None


# The probe's kind of document: pages within pages, each sized by a variable.
PROBE = """query($n: Int = 1, $m: Int = 1) {
  accounts(first: $n) { ... on AccountConnection { edges { node {
    id
    auditTrail(first: $m) { ... on AccountChangePage { changes { action } } }
    usage { used }
  } } } }
  events(first: $n) { __typename }
}"""
ADMIN_CEILING = 10_000  # the document costs 21,400 with pages of 100, 40 with 2 and 3


async def _admin(conn: asyncpg.Connection) -> dict[str, str]:
    return {"authorization": f"Bearer {await api_key(conn, Role.ADMIN)}"}


def _refused(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == COST_LIMIT_EXCEEDED, body
    assert error["extensions"]["ceiling"] == ADMIN_CEILING
    return body


@pytest.mark.parametrize("response_cache", [False, True])
async def test_variables_cannot_lift_a_query_over_the_ceiling_by_post_or_get(
    conn: asyncpg.Connection, make_api: MakeApi, response_cache: bool
) -> None:
    headers = await _admin(conn)
    spec = {**headers, "accept": "application/graphql-response+json"}
    big, small = {"n": 100, "m": 100}, {"n": 2, "m": 3}
    ceilings = {"admin": ADMIN_CEILING}
    async with make_api(cost_ceilings=ceilings, response_cache=response_cache) as api:
        posted = await api.client.post(
            "/graphql", json={"query": PROBE, "variables": big}, headers=spec
        )
        got = await api.client.get(
            "/graphql", params={"query": PROBE, "variables": json.dumps(big)}, headers=spec
        )
        nulled = await api.client.post(
            "/graphql", json={"query": PROBE, "variables": {"n": None, "m": None}}, headers=spec
        )
        allowed = await api.client.post(
            "/graphql", json={"query": PROBE, "variables": small}, headers=headers
        )
        # The same document again with the large values: neither the validation cache nor
        # the response cache keeps a verdict of the small ones for them.
        again = await api.client.post(
            "/graphql", json={"query": PROBE, "variables": big}, headers=spec
        )
        wrong = await api.client.post(
            "/graphql", json={"query": PROBE, "variables": {"n": "100"}}, headers=spec
        )
    for response in (posted, got, nulled, again):
        assert response.status_code == 400, response.text
        _refused(response)
    assert posted.json()["errors"][0]["extensions"]["cost"] > ADMIN_CEILING
    assert allowed.status_code == 200 and "errors" not in allowed.json(), allowed.text
    # A value that does not coerce is the variable error it always was: nothing ran.
    assert wrong.status_code == 400, wrong.text
    (error,) = wrong.json()["errors"]
    assert "$n" in error["message"] and "data" not in wrong.json()


async def test_a_trusted_document_by_id_is_costed_with_its_variables(
    conn: asyncpg.Connection, make_api: MakeApi, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    probe_id = document_id(PROBE)
    manifest.write_text(Manifest([Document(probe_id, None, "query", PROBE)]).as_json())
    headers = await _admin(conn)
    async with make_api(cost_ceilings={"admin": ADMIN_CEILING}, documents=manifest) as api:
        refused = await api.client.post(
            "/graphql",
            json={"documentId": f"sha256:{probe_id}", "variables": {"n": 100, "m": 100}},
            headers=headers,
        )
        allowed = await api.client.post(
            "/graphql",
            json={"documentId": f"sha256:{probe_id}", "variables": {"n": 1}},
            headers=headers,
        )
    assert refused.status_code == 200, refused.text  # application/json: 200, as ever
    _refused(refused)
    assert "errors" not in allowed.json(), allowed.text
