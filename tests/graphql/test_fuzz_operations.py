"""Generated GraphQL operations (hypothesis-graphql) for every role, sent over HTTP to
`benefitgate serve` on a database seeded with the demo data: whatever the document and
its arguments, the answer is a typed one (see `check_graphql_response`).

Valid operations and operations with one schema violation, queries and mutations, with
arguments drawn half from the seeded data's ids and keys and half at random (NUL
characters, any Unicode, huge numbers, malformed instants and dates, any JSON).
`FUZZ_OPERATIONS` examples per role (150 by default, 600 in all).
"""

from __future__ import annotations

import collections
import functools
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

import graphql
from tests.fixtures.fuzz import JSON_VALUES, ROLES, Target, check_graphql_response

STATS: collections.Counter[object] = collections.Counter()
EXAMPLES = int(os.environ.get("FUZZ_OPERATIONS", "150"))
SCHEMA = graphql.build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
SPEC = {"accept": "application/graphql-response+json"}


def _json_node(value: Any) -> graphql.ValueNode:
    """A JSON value as the GraphQL literal that writes it."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_json_node(v) for v in value])
    fields = [
        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_json_node(v))
        for k, v in value.items()
    ]
    return nodes.Object(fields)


def _mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` nine times in ten: an operation has many arguments, and one refused value
    stops it before anything runs, so odd values everywhere would test only validation."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else valid)


_RECENT = st.datetimes(datetime(2020, 1, 1), datetime(2032, 1, 1))
_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
# Odd instants: no offset (ambiguous), the first and last Python has, any text.
_ODD_INSTANTS = st.datetimes().map(lambda d: d.isoformat()) | st.text()
_INSTANTS = _mostly(
    st.builds(lambda d, z: d.replace(tzinfo=z).isoformat(), _RECENT, _OFFSETS), _ODD_INSTANTS
)
_DATES = _mostly(_RECENT.map(lambda d: d.date().isoformat()), st.dates().map(str) | st.text())


def _scalars(
    ids: tuple[str, ...], keys: tuple[str, ...]
) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    text = st.text().map(nodes.String)
    return {
        "ID": _mostly(st.sampled_from(ids).map(nodes.String), text | st.integers().map(nodes.Int)),
        "String": st.sampled_from(keys + ids).map(nodes.String) | text,
        "DateTime": _INSTANTS.map(nodes.String),
        "Date": _DATES.map(nodes.String),
        "JSON": JSON_VALUES.map(_json_node),
    }


@functools.cache
def _operations(ids: tuple[str, ...], keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Every role draws from one strategy, built once (hypothesis-graphql builds its
    strategies lazily and caches them per schema and scalars). One operation in four has
    one schema violation (hypothesis-graphql's negative mode)."""
    scalars = _scalars(ids, keys)
    valid = [make(SCHEMA, custom_scalars=scalars) for make in (queries, mutations)]
    violating = [
        make(SCHEMA, custom_scalars=scalars, mode=Mode.NEGATIVE) for make in (queries, mutations)
    ]
    return st.one_of(*valid, *valid, *valid, *violating)


@pytest.mark.parametrize("role", ROLES)
def test_generated_operations_get_typed_answers(target: Target, role: str) -> None:
    headers = {**SPEC, "authorization": f"Bearer {target.credentials[role]}"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(document=_operations(target.ids, target.keys))
    def answer_is_typed(document: str) -> None:
        response = client.post("/graphql", json={"query": document}, headers=headers)
        check_graphql_response(response.status_code, response.json())

    with httpx.Client(base_url=f"http://127.0.0.1:{target.port}", timeout=60) as client:
        answer_is_typed()
