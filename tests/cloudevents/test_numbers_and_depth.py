"""POST /events with what orjson refuses or cannot encode again: a number no float holds is
refused with its event alone, the others land (orjson refused the whole batch); NaN and
Infinity, which JSON does not have, still refuse the body; an event's `data` nested deeper
than a GraphQL JSON input may is refused alone, and a body nested past what is read at all
is refused whole, with a message that says so."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.cloudevents.body import TOO_DEEP
from benefitgate.common.nesting import MAX_DEPTH
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events

HUGE = "1" + "0" * 10_000  # an integer of 10,001 digits: past a float, and past int()'s 4,300


def written(events: list[Any], numbers: dict[str, str]) -> bytes:
    """The events as JSON text, each string `"<name>"` of `numbers` written as that number:
    json.dumps cannot write 1e400 (it writes `Infinity`, which is not JSON)."""
    text = json.dumps(events)
    for name, number in numbers.items():
        text = text.replace(json.dumps(name), number)
    return text.encode()


def nested(levels: int) -> Any:
    value: Any = "deep"
    for _ in range(levels):
        value = [value]
    return value


async def counter(conn: asyncpg.Connection, account_id: UUID) -> float:
    value = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = 'm0'",
        account_id,
    )
    return 0.0 if value is None else float(value)


async def results(api: Api, key: str, body: bytes) -> list[tuple[Any, str, str | None, str]]:
    response = await post_events(api.client, body, auth=key)
    assert response.status_code == 200, response.text
    return [(r["id"], r["status"], r["reason"], r["message"]) for r in response.json()["results"]]


async def test_a_number_no_float_holds_refuses_its_event_alone_and_the_others_land(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    events = [
        cloud_event(account_id, "first", value=1),
        cloud_event(account_id, "big", value="<1e400>"),
        cloud_event(account_id, "minus-big", value="<-1e400>"),
        cloud_event(account_id, "digits", value="<huge>"),
        cloud_event(account_id, "in-a-property", data={"region": {"zones": [1, "<1e400>"]}}),
        {**cloud_event(account_id, "in-an-attribute"), "rank": "<-1e400>"},
        # An integer past 64 bits that a float holds: read as orjson reads it, a float.
        cloud_event(account_id, "last", value=2, data={"big": "<2**70>"}),
    ]
    numbers = {"<1e400>": "1e400", "<-1e400>": "-1e400", "<huge>": HUGE, "<2**70>": str(2**70)}

    read = await results(api, key, written(events, numbers))

    assert [r[:3] for r in read] == [
        ("first", "ACCEPTED", None),
        ("big", "REJECTED", "VALUE_OUT_OF_RANGE"),  # as the string "1e400" is
        ("minus-big", "REJECTED", "VALUE_OUT_OF_RANGE"),
        ("digits", "REJECTED", "VALUE_OUT_OF_RANGE"),
        ("in-a-property", "REJECTED", "INVALID_EVENT"),
        ("in-an-attribute", "REJECTED", "INVALID_EVENT"),
        ("last", "ACCEPTED", None),
    ]
    assert read[4][3] == "`data.region.zones[1]` is 1e400, a number past the range of a float"
    assert read[5][3] == "`rank` is -1e400, a number past the range of a float"
    assert await counter(conn, account_id) == 3.0


@pytest.mark.parametrize(
    "numbers",
    [
        {"<bad>": "NaN"},
        {"<bad>": "Infinity"},
        {"<bad>": "-Infinity"},
        # With a number no float holds before it: the slower reading refuses them too.
        {"<bad>": "NaN", "<big>": "1e400"},
        {"<bad>": "Infinity", "<big>": "1e400"},
        # A lone surrogate: no Unicode text holds one, whichever parser read it.
        {"<bad>": '"\\ud800"', "<big>": "1e400"},
    ],
)
async def test_nan_infinity_and_a_lone_surrogate_still_refuse_the_whole_body(
    conn: asyncpg.Connection, api: Api, numbers: dict[str, str]
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    events = [
        cloud_event(account_id, "fine"),
        cloud_event(account_id, "big", value="<big>"),
        cloud_event(account_id, "bad", value="<bad>"),
    ]
    body = written(events, {"<big>": "3", **numbers})

    response = await post_events(api.client, body, auth=key)

    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"].startswith("the body is not JSON: ")
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


async def test_a_body_not_json_past_a_number_no_float_holds_names_the_real_fault(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    body = b'[{"data": {"value": 1e400}}, {"id": "x",]'

    response = await post_events(api.client, body, auth=key)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    # Where the comma is, not where orjson stopped (at 1e400, char 20).
    assert error["message"].endswith(f"(char {body.index(b',]') + 1})"), error["message"]


async def test_data_nested_deeper_than_a_json_input_may_refuses_its_event_alone(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    too_deep = f"`data` nests deeper than {MAX_DEPTH} levels"
    events = [
        cloud_event(account_id, "fits", data={"p": nested(MAX_DEPTH - 1)}),  # data + 31 arrays
        cloud_event(account_id, "one-more", data={"p": nested(MAX_DEPTH)}),
        # Past what orjson encodes (254), and near what it reads (1,024 with the batch's
        # array, the event and `data`): accepted, where usageRecord refused the same.
        cloud_event(account_id, "past-encoding", data={"p": nested(300)}),
        cloud_event(account_id, "near-reading", data={"p": "<1000>"}),
        {**cloud_event(account_id, "a-list"), "data": nested(MAX_DEPTH + 1)},
        cloud_event(account_id, "last", value=2),
    ]

    deepest = "[" * 1_000 + '"deep"' + "]" * 1_000  # json.dumps would recurse too deep
    read = await results(api, key, written(events, {"<1000>": deepest}))

    assert read == [
        ("fits", "ACCEPTED", None, None),
        ("one-more", "REJECTED", "INVALID_EVENT", too_deep),
        ("past-encoding", "REJECTED", "INVALID_EVENT", too_deep),
        ("near-reading", "REJECTED", "INVALID_EVENT", too_deep),
        ("a-list", "REJECTED", "INVALID_EVENT", too_deep),
        ("last", "ACCEPTED", None, None),
    ]
    assert await counter(conn, account_id) == 3.0


async def test_a_body_nested_past_what_is_read_is_refused_whole_saying_so(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    events = [cloud_event(account_id, "fine"), cloud_event(account_id, "deep", data={"p": "<"})]
    body = written(events, {"<": "[" * 2_000 + "]" * 2_000})

    response = await post_events(api.client, body, auth=key)

    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error == {
        "message": TOO_DEEP,
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0
