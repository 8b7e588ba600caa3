"""POST /events end to end: per-event results, the content modes, request refusals, and
the dedup key of CloudEvents (id within source)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import BATCH, SINGLE, cloud_event, post_events
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event

PERIOD = NOW - timedelta(days=10)


async def counter(conn: asyncpg.Connection, account_id: UUID, metric: str = "m0") -> float:
    value = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = $2",
        account_id,
        metric,
    )
    return 0.0 if value is None else float(value)


async def record(api: Api, events: object, key: str, **kw: Any) -> dict[str, Any]:
    response = await post_events(api.client, events, auth=key, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_event_gets_a_result_and_each_rejection_reason_is_reachable(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    await conn.execute("insert into metrics values ('calls', 'Calls', 'calls', 'count', 'never')")
    reseller = await factories.partner(conn)
    mine = await factories.account(conn, cat["versions"]["basic"], partner_id=reseller)
    await conn.execute("update accounts set external_id = 'cus_1' where id = $1", mine)
    other = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn, Role.PARTNER, partner_id=reseller)
    no_data = {k: v for k, v in cloud_event(mine, "count-me", type="calls").items() if k != "data"}
    nothing = {
        k: v for k, v in cloud_event(mine, "what-no-data", type="nope").items() if k != "data"
    }
    events: list[Any] = [
        cloud_event(mine, "ok"),
        cloud_event(mine, "ok"),  # the same id and source twice in one batch
        cloud_event(mine, "ok", source="other-svc"),  # another source: another event
        cloud_event("cus_1", "by-external-id", value="2.5"),  # a numeric string, as OpenMeter
        cloud_event(str(mine).upper(), "upper-case-id", value=0.5),
        no_data,  # a count metric needs no value
        cloud_event(uuid4(), "who"),
        cloud_event("cus_unknown", "who-else"),
        cloud_event(other, "theirs"),
        cloud_event(mine, "what", type="nope"),
        nothing,  # no metric by that name: its missing value is not the fault told
        cloud_event(mine, "what-no-value", type="nope", value=None),
        cloud_event(mine, "neg", value=-1),
        cloud_event(mine, "huge", value=1e300),
        cloud_event(mine, "old", at=NOW - timedelta(days=36)),
        cloud_event(mine, "x" * 256),
        cloud_event(mine, "no-value", value=None),
        cloud_event(mine, "words", value="twelve"),
        cloud_event(mine, "nan", value="nan"),
        cloud_event(mine, "bool", value=True),
        {**cloud_event(mine, "v02"), "specversion": "0.3"},
        {**cloud_event(mine, "no-source"), "source": ""},
        {**cloud_event(mine, "naive"), "time": "2026-11-15T11:00:00"},
        {**cloud_event(mine, "not-a-time"), "time": "yesterday"},
        {**cloud_event(mine, "binary"), "data_base64": "AAEC"},
        {**cloud_event(mine, "xml"), "datacontenttype": "application/xml"},
        "not an object",
    ]
    result = await record(api, events, key)
    outcomes = [(r["id"], r["status"], r["reason"]) for r in result["results"]]
    assert outcomes == [
        ("ok", "ACCEPTED", None),
        ("ok", "DUPLICATE", None),
        ("ok", "ACCEPTED", None),
        ("by-external-id", "ACCEPTED", None),
        ("upper-case-id", "ACCEPTED", None),
        ("count-me", "ACCEPTED", None),
        ("who", "REJECTED", "UNKNOWN_ACCOUNT"),
        ("who-else", "REJECTED", "UNKNOWN_ACCOUNT"),
        ("theirs", "REJECTED", "UNKNOWN_ACCOUNT"),  # as missing: existence is never told
        ("what", "REJECTED", "UNKNOWN_METRIC"),
        ("what-no-data", "REJECTED", "UNKNOWN_METRIC"),
        ("what-no-value", "REJECTED", "UNKNOWN_METRIC"),
        ("neg", "REJECTED", "NEGATIVE_VALUE"),
        ("huge", "REJECTED", "VALUE_OUT_OF_RANGE"),
        ("old", "REJECTED", "OUTSIDE_WINDOW"),
        ("x" * 255 + "\u2026", "REJECTED", "INVALID_EVENT_ID"),  # echoed cut
        ("no-value", "REJECTED", "INVALID_VALUE"),
        ("words", "REJECTED", "INVALID_VALUE"),
        ("nan", "REJECTED", "INVALID_VALUE"),  # not a number in JSON's syntax
        ("bool", "REJECTED", "INVALID_VALUE"),
        ("v02", "REJECTED", "INVALID_EVENT"),
        ("no-source", "REJECTED", "INVALID_EVENT"),
        ("naive", "REJECTED", "INVALID_EVENT"),
        ("not-a-time", "REJECTED", "INVALID_EVENT"),
        ("binary", "REJECTED", "INVALID_EVENT"),
        ("xml", "REJECTED", "INVALID_EVENT"),
        (None, "REJECTED", "INVALID_EVENT"),
    ]
    assert all(r["message"] for r in result["results"] if r["status"] == "REJECTED")
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (5, 1, 21)
    assert await counter(conn, mine) == 5.0
    assert await counter(conn, mine, "calls") == 1.0
    assert await counter(conn, other) == 0.0


async def test_one_event_and_a_batch_in_each_content_mode(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    sent = [
        (cloud_event(account_id, "single"), SINGLE),
        (cloud_event(account_id, "single-with-charset"), f"{SINGLE}; charset=utf-8"),
        ([cloud_event(account_id, "batch")], BATCH),
        (cloud_event(account_id, "plain"), "application/json"),
        ([cloud_event(account_id, "plain-batch")], "Application/JSON"),
    ]
    for body, content_type in sent:
        result = await record(api, body, key, content_type=content_type)
        assert result["accepted"] == 1, (content_type, result)
    assert await counter(conn, account_id) == 5.0
    # A time left out is the time of receipt.
    untimed = {k: v for k, v in cloud_event(account_id, "untimed").items() if k != "time"}
    await record(api, untimed, key, content_type=SINGLE)
    at = await conn.fetchval("select occurred_at from usage_events where event_id = 'untimed'")
    assert at == NOW


async def test_requests_refused_whole_get_a_typed_error_and_write_nothing(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    one = cloud_event(account_id, "e1")
    cases: list[tuple[object, dict[str, Any], int, str]] = [
        ([one], {"auth": None}, 401, "UNAUTHENTICATED"),
        ([one], {"auth": "bgk_nope_nope"}, 401, "UNAUTHENTICATED"),
        ([one], {"auth": frontend_token(account_id)}, 403, "FORBIDDEN"),
        ([one], {"auth": key, "content_type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ([one], {"auth": key, "content_type": ""}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            [one],
            {"auth": key, "content_type": f"{BATCH}; charset=latin-1"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (b'[{"id": "\xe9"}]', {"auth": key}, 400, "BAD_REQUEST"),
        (b"[{", {"auth": key}, 400, "BAD_REQUEST"),
        (b'[{"id": "a\\u0000b"}]', {"auth": key}, 400, "BAD_REQUEST"),
        (b'["\\ud800"]', {"auth": key}, 400, "BAD_REQUEST"),
        (one, {"auth": key, "content_type": BATCH}, 400, "BAD_REQUEST"),
        ([one], {"auth": key, "content_type": SINGLE}, 400, "BAD_REQUEST"),
        (42, {"auth": key, "content_type": "application/json"}, 400, "BAD_REQUEST"),
        ([{}] * 1001, {"auth": key}, 400, "INVALID_INPUT"),
        ([one] * 1_000, {"auth": key}, 413, "PAYLOAD_TOO_LARGE"),
    ]
    async with make_api(max_body_bytes=100_000) as api:
        for body, kw, status, code in cases:
            response = await post_events(api.client, body, **kw)
            assert response.status_code == status, (kw, response.text)
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == code, (kw, error)
        response = await api.client.get("/events", headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


async def test_media_types_are_read_whatever_their_case_and_a_missing_one_is_named(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Media types, parameter names and the charset are case-insensitive (RFC 9110, 8.3.1);
    a request without a Content-Type was told "not ''"."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    shouted = f"{BATCH.upper()}; CHARSET=UTF-8"
    result = await record(api, [cloud_event(account_id, "shouted")], key, content_type=shouted)
    assert result["accepted"] == 1, result
    refused = await post_events(api.client, [], auth=key, content_type="TEXT/PLAIN; A=B")
    assert refused.status_code == 415, refused.text
    assert refused.json()["errors"][0]["message"].endswith("not 'text/plain'")
    latin = await post_events(api.client, [], auth=key, content_type=f"{BATCH}; CHARSET=Latin-1")
    assert latin.status_code == 415
    assert latin.json()["errors"][0]["message"] == "send the events in UTF-8, not 'Latin-1'"

    bare = await api.client.post(
        "/events", content=b"[]", headers={"authorization": f"Bearer {key}"}
    )

    assert bare.status_code == 415, bare.text
    (error,) = bare.json()["errors"]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error["message"] == (
        f"send {SINGLE}, {BATCH} or application/json: the request has no Content-Type"
    )


async def test_usage_record_and_cloudevents_keep_their_own_ids(
    conn: asyncpg.Connection, api: Api
) -> None:
    """usageRecord's events have no source, so an id there never collides with a
    CloudEvent's id within its source; each path deduplicates its own retries."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    recorded = await api.data(RECORD, {"events": [event(account_id, "e1")]}, auth=key)
    assert recorded["usageRecord"]["accepted"] == 1
    assert (await record(api, [cloud_event(account_id, "e1")], key))["accepted"] == 1
    retry = await record(api, [cloud_event(account_id, "e1")], key)
    assert retry["results"][0]["status"] == "DUPLICATE"
    again = await api.data(RECORD, {"events": [event(account_id, "e1")]}, auth=key)
    assert again["usageRecord"]["duplicates"] == 1
    assert await counter(conn, account_id) == 2.0


@pytest.mark.parametrize("subject_kind", ["id", "external id"])
async def test_crossing_a_threshold_through_cloudevents_reports_it_once(
    conn: asyncpg.Connection, api: Api, subject_kind: str
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # hard limit 100
    await conn.execute("update accounts set external_id = 'cus_9' where id = $1", account_id)
    subject = account_id if subject_kind == "id" else "cus_9"
    key = await api_key(conn)
    for b in range(3):
        batch = [cloud_event(subject, f"b{b}-{i}", value=20) for i in range(2)]
        assert (await record(api, batch, key))["accepted"] == 2
    rows = await conn.fetch(
        "select payload from events where type = 'usage.threshold_crossed' and account_id = $1",
        account_id,
    )
    assert sorted(r["payload"]["threshold"] for r in rows) == [80, 100]
    assert await counter(conn, account_id) == 120.0


async def test_times_rfc_3339_allows_are_read_and_instants_past_the_calendar_are_outside_the_window(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    hour_ago = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dt%H:%M:%S.%fz")
    events = [
        {**cloud_event(account_id, "lower-case"), "time": hour_ago},  # RFC 3339, 5.6
        {**cloud_event(account_id, "past-9999"), "time": "9999-12-31T23:59:59-01:00"},
        {**cloud_event(account_id, "before-1"), "time": "0001-01-01T00:00:00+01:00"},
        {**cloud_event(account_id, "not-a-time"), "time": "2026-11-15 noon"},
        {**cloud_event(account_id, "offset"), "time": "2026-11-15T16:30:00.5+05:30"},
    ]
    # ISO 8601 forms that RFC 3339 does not have, each the same hour: fromisoformat took them.
    iso_only = [
        "2026-W46-7T11:00:00Z",  # week date
        "2026-319T11:00:00Z",  # ordinal date
        "20261115T110000Z",  # basic format
        "2026-11-15T11:00Z",  # no seconds
        "2026-11-15T11:00:00+01",  # an offset of hours alone
        "2026-11-15T11:00:00,5Z",  # a comma before the fraction
        "2026-11-15T11:00:00\u0662Z",  # a digit that is not ASCII
    ]
    events += [{**cloud_event(account_id, f"iso-{i}"), "time": t} for i, t in enumerate(iso_only)]
    result = await record(api, events, key)
    # The two far instants were "`time` must be an RFC 3339 timestamp", which they are.
    assert [(r["id"], r["status"], r["reason"]) for r in result["results"]] == [
        ("lower-case", "ACCEPTED", None),
        ("past-9999", "REJECTED", "OUTSIDE_WINDOW"),
        ("before-1", "REJECTED", "OUTSIDE_WINDOW"),
        ("not-a-time", "REJECTED", "INVALID_EVENT"),
        ("offset", "ACCEPTED", None),
    ] + [(f"iso-{i}", "REJECTED", "INVALID_EVENT") for i in range(len(iso_only))]
    assert await counter(conn, account_id) == 2.0


async def test_a_subject_shaped_as_an_id_names_that_account_else_the_one_with_it_as_external_id(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    by_id = await factories.account(conn, cat["versions"]["basic"])
    by_external = await factories.account(conn, cat["versions"]["basic"])
    shadowed = await factories.account(conn, cat["versions"]["basic"])
    unclaimed = str(uuid4())  # no account has this id: it is an external id only
    await conn.execute("update accounts set external_id = $1 where id = $2", unclaimed, by_external)
    # An external id that is another account's id: the subject names that other account.
    await conn.execute("update accounts set external_id = $1 where id = $2", str(by_id), shadowed)
    key = await api_key(conn)

    body = await record(
        api,
        [
            cloud_event(by_id, "a"),
            cloud_event(unclaimed.upper(), "b"),  # not an id: the external id as written
            cloud_event(unclaimed, "c"),
            cloud_event(str(uuid4()), "d"),
        ],
        key,
    )

    assert [r["status"] for r in body["results"]] == [
        "ACCEPTED",
        "REJECTED",
        "ACCEPTED",
        "REJECTED",
    ]
    assert (await counter(conn, by_id), await counter(conn, by_external)) == (1.0, 1.0)
    assert await counter(conn, shadowed) == 0.0


async def test_a_body_that_is_not_utf8_is_refused_saying_so_and_utf8_declared_is_read(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)

    latin = await post_events(api.client, b'[{"id": "caf\xe9"}]', auth=key)
    declared = await post_events(
        api.client,
        [cloud_event(account_id, "e1")],
        auth=key,
        content_type=f"{BATCH}; charset=UTF-8",
    )

    assert latin.status_code == 400
    assert latin.json()["errors"][0]["message"] == (
        "the body is not UTF-8: byte 12 is invalid continuation byte"
    )
    assert declared.status_code == 200 and declared.json()["accepted"] == 1
