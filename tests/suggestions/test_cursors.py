"""Suggestion cursors: only one the API wrote is taken; anything int(), float() or UUID()
would also read (nan, inf, 1e400, 1_0, spaces, signs, braces), a round no bigint holds and
a cursor of the format before rounds are INVALID_INPUT."""

from __future__ import annotations

import base64
import uuid

import asyncpg
import pytest

from tests.conftest import Api, api_key

LIST = """query List($after: String) { suggestions(first: 2, after: $after) {
  __typename ... on SuggestionConnection { edges { cursor } }
  ... on InvalidInputError { code field message } } }"""
ID = uuid.UUID("6f1c2b9e-0a4d-4c1e-9b7a-2d5e8f3a1c40")


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        b64(f"s:0:nan:{ID}"),
        b64(f"s:0:inf:{ID}"),
        b64(f"s:0:-inf:{ID}"),
        b64(f"s:0:1e400:{ID}"),
        b64(f"s:0:1_0:{ID}"),
        b64(f"s:0: 0.5:{ID}"),
        b64(f"s:0:+0.5:{ID}"),
        b64(f"s:0:0.50:{ID}"),
        b64(f"s:0:.5:{ID}"),
        b64(f"s:0:0.5:{{{ID}}}"),
        b64(f"s:0:0.5:{str(ID).upper()}"),
        b64(f"s:0:0.5:{ID.hex}"),
        b64(f"s:0:0.5:urn:uuid:{ID}"),
        b64(f"s:-1:0.5:{ID}"),
        b64(f"s:+1:0.5:{ID}"),
        b64(f"s:01:0.5:{ID}"),
        b64(f"s:1_0:0.5:{ID}"),
        b64(f"s: 1:0.5:{ID}"),
        b64(f"s:{2**63}:0.5:{ID}"),
        b64(f"s:0.5:{ID}"),  # before rounds
        "!" + b64(f"s:0:0.5:{ID}"),  # base64 skips what is not its own
        b64(f"s:0:0.5:{ID}") + "\n",
    ],
)
async def test_a_cursor_the_api_did_not_write_is_invalid_input(
    conn: asyncpg.Connection, api: Api, cursor: str
) -> None:
    found = await api.data(LIST, {"after": cursor}, auth=await api_key(conn))

    assert found["suggestions"] == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "field": "after",
        "message": "after is not a cursor this API produced",
    }


@pytest.mark.parametrize("confidence", ["0.5", "1.0", "0.05", "1e-05"])
async def test_a_cursor_as_the_api_writes_it_pages_on(
    conn: asyncpg.Connection, api: Api, confidence: str
) -> None:
    found = await api.data(LIST, {"after": b64(f"s:0:{confidence}:{ID}")}, auth=await api_key(conn))

    assert found["suggestions"] == {"__typename": "SuggestionConnection", "edges": []}


async def test_a_cursor_of_a_round_not_reached_is_refused(
    conn: asyncpg.Connection, api: Api
) -> None:
    found = await api.data(
        LIST, {"after": b64(f"s:{2**63 - 1}:0.5:{ID}")}, auth=await api_key(conn)
    )

    assert found["suggestions"] == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "field": "after",
        "message": "the ranking this cursor read is gone; start again",
    }
