"""A refusal quotes at most a few dozen characters of what the client sent (an unknown
key, a literal, a JSON key, an event's id): a 100,000-character value came back in full in
the error, in each retry's answer and in the log line that carried it."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import asyncpg

from benefitgate.common.text import QUOTED
from benefitgate.metering.models import MAX_EVENT_ID
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.metering_api import RECORD, event

LONG = "k" * 100_000
SRC = Path(__file__).parents[2] / "src" / "benefitgate"

GRANT = """mutation($id: ID!, $benefit: String!) {
  grantCreate(accountId: $id, benefit: $benefit, source: MANUAL, idempotencyKey: "g") {
    __typename ... on InvalidInputError { field } ... on Error { code message } } }"""
CONSUME = """mutation($id: ID!, $metric: String!) {
  usageConsume(accountId: $id, metric: $metric, amount: 1, idempotencyKey: "c") {
    __typename ... on InvalidInputError { field } ... on Error { code message } } }"""


def _quotes_a_bounded_part(message: str) -> None:
    assert "k" * QUOTED + "\u2026" in message, message[:200]
    assert "k" * (QUOTED + 1) not in message


async def test_typed_errors_quote_a_long_key_cut_with_an_ellipsis(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = str(await factories.account(conn, cat["versions"]["basic"]))
    key = await api_key(conn)
    for document, variables, root in [
        (GRANT, {"id": account, "benefit": LONG}, "grantCreate"),
        (CONSUME, {"id": account, "metric": LONG}, "usageConsume"),
    ]:
        refused = (await api.data(document, variables, auth=key))[root]
        assert refused["code"] == "INVALID_INPUT", refused
        _quotes_a_bounded_part(refused["message"])
        assert len(refused["message"]) < 200


async def test_request_errors_cut_a_long_literal_and_a_long_json_key(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    digits = "9" * 100_000
    literal = await api.post(
        f'{{ entitlementCheck(accountId: "x", metric: "m", requested: {digits}) '
        "{ __typename } }",
        auth=key,
    )
    messages = [e["message"] for e in literal.json()["errors"]]
    assert f"Number {'9' * QUOTED}\u2026 is out of range." in messages, messages
    assert all(len(m) < 300 for m in messages), messages
    nul = await api.post("query($p: JSON) { glossary { key } }", {"p": {LONG: "a\x00b"}}, auth=key)
    error = nul.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    _quotes_a_bounded_part(error["message"])


async def test_an_events_long_id_is_echoed_cut_in_its_result(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    cut = "k" * MAX_EVENT_ID + "\u2026"
    recorded = await api.data(RECORD, {"events": [event(account, LONG)]}, auth=key)
    (result,) = recorded["usageRecord"]["results"]
    assert (result["eventId"], result["reason"]) == (cut, "INVALID_EVENT_ID")
    posted = await post_events(api.client, [cloud_event(account, LONG, source=LONG)], auth=key)
    (answer,) = posted.json()["results"]
    assert (answer["id"], answer["source"], answer["reason"]) == (cut, cut, "INVALID_EVENT_ID")
    assert len(json.dumps(posted.json())) < 2_000


def _quoting(node: ast.AST) -> list[ast.FormattedValue]:
    return [
        v for v in ast.walk(node) if isinstance(v, ast.FormattedValue) and v.conversion == ord("r")
    ]


def _refusals(tree: ast.AST) -> list[Any]:
    """What a client may read: raised exceptions (but the settings' ValueErrors, which stop
    the service at start) and typed errors built with `X.of(...)`."""
    found: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
            if name not in ("ValueError", "AssertionError"):
                found.append(node.exc)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "of":
            found.append(node)
    return found


def test_no_refusal_quotes_with_repr_but_through_quoted() -> None:
    """`{value!r}` in a refusal quotes the value whole; `quoted(value)` cuts it."""
    offenders = [
        f"{path.relative_to(SRC)}:{value.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        for refusal in _refusals(ast.parse(path.read_text()))
        for value in _quoting(refusal)
    ]
    assert offenders == []
