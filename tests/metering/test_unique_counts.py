"""Unique counts end to end: a unique_count metric counts the distinct values of one event
property per period, through POST /events and usageRecord alike; a duplicate event id or a
value seen before counts nothing, backdated events land in their period, and the count
works in limits, thresholds and milestones. Exact under concurrent and retried batches of
two servers over TCP."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from benefitgate import db
from benefitgate.catalog.repository import load_catalog
from benefitgate.clock import FixedClock
from benefitgate.impact.models import DayRange
from benefitgate.impact.repository import months
from benefitgate.metering import ingest
from benefitgate.metering.models import UsageEvent
from benefitgate.metering.rules import Window
from benefitgate.targets.repository import targets_with_actuals
from tests.conftest import Api, MakeApi, ServeLive, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import SINGLE, cloud_event, post_events
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import ADMIN, CHECK, CONSUME, RECORD, at, event

SERIES = """
query Series($id: ID!, $from: Date!, $to: Date!, $bucket: UsageBucket!) {
  usageSeries(accountId: $id, metric: "users", from: $from, to: $to, bucket: $bucket) {
    ... on UsageSeries { points { start value } }
  }
}
"""
METRIC = """
mutation($agg: Aggregation!, $unique: String, $by: [String!], $key: String!) {
  metricCreate(key: "seen", name: "Seen", unit: "users", aggregation: $agg,
               reset: CALENDAR_MONTH, uniqueProperty: $unique, groupBy: $by,
               idempotencyKey: $key) {
    __typename ... on MetricChanged { metric { aggregation uniqueProperty } }
    ... on InvalidInputError { field }
  }
}
"""


async def _unique_catalog(conn: asyncpg.Connection, limit: float = 1000) -> dict[str, Any]:
    """The factories' catalog with `users`: the distinct `user` values per calendar month,
    with a hard limit of `limit` in every tier."""
    cat = await factories.catalog(conn)
    await conn.execute(
        """insert into metrics (key, name, unit, aggregation, reset, unique_property)
           values ('users', 'Active users', 'users', 'unique_count', 'calendar_month', 'user')"""
    )
    for version in cat["versions"].values():
        await conn.execute(
            "insert into tier_limits values ($1, 'users', 'hard', $2)", version, limit
        )
    return cat


def _seen(subject: UUID | str, event_id: str, user: object, **kw: Any) -> dict[str, Any]:
    return cloud_event(subject, event_id, type="users", data={"user": user}, **kw)


async def _counters(conn: asyncpg.Connection, metric: str = "users") -> dict[Any, float]:
    rows = await conn.fetch(
        "select account_id, period_start, value from usage_counters where metric_key = $1",
        metric,
    )
    return {(r["account_id"], r["period_start"]): float(r["value"]) for r in rows}


async def test_distinct_values_count_once_per_period_with_backdating_across_the_month(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _unique_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    late_october = datetime(2026, 10, 31, 23, 59, 59, 999999, UTC)
    november = datetime(2026, 11, 1, tzinfo=UTC)
    sent = [
        _seen(account_id, "1", "u1"),
        _seen(account_id, "2", "u2"),
        _seen(account_id, "3", "u1"),  # a value seen before: nothing more
        _seen(account_id, "1", "u9"),  # a duplicate id: nothing, whatever its value
        {**_seen(account_id, "4", 7), "data": {"user": 7}},  # no value: one for the count
        _seen(account_id, "5", "u3", at=late_october),  # backdated into October
        _seen(account_id, "6", "u1", at=november),  # November's first instant
        _seen(account_id, "7", None),
        _seen(account_id, "8", {"id": 1}),
        _seen(account_id, "9", "x" * 201),
        cloud_event(account_id, "10", type="users"),  # no `user` at all
    ]
    result = (await post_events(api.client, sent, auth=key)).json()
    assert [(r["status"], r["reason"]) for r in result["results"]] == [
        ("ACCEPTED", None),
        ("ACCEPTED", None),
        ("ACCEPTED", None),
        ("DUPLICATE", None),
        ("ACCEPTED", None),
        ("ACCEPTED", None),
        ("ACCEPTED", None),
        *[("REJECTED", "INVALID_PROPERTY")] * 4,
    ]
    # usageRecord takes the same properties; a value of POST /events' counts once.
    recorded = await api.data(
        RECORD,
        {
            "events": [
                {**event(account_id, "r1", metric="users"), "properties": {"user": "u4"}},
                {**event(account_id, "r2", metric="users"), "properties": {"user": "u2"}},
                {
                    **event(account_id, "r3", metric="users", at=at("2026-10-20")),
                    "properties": {"user": "u3"},
                },
                event(account_id, "r4", metric="users"),  # no properties
            ]
        },
        auth=key,
    )
    assert [r["reason"] for r in recorded["usageRecord"]["results"]] == [
        *[None] * 3,
        "INVALID_PROPERTY",
    ]
    refused = await api.data(
        RECORD,
        {"events": [{**event(account_id, "r5", metric="users"), "properties": [1]}]},
        auth=key,
    )
    assert refused["usageRecord"]["code"] == "INVALID_INPUT"
    october = datetime(2026, 10, 1, tzinfo=UTC)
    assert await _counters(conn) == {
        (account_id, october): 1.0,  # u3
        (account_id, november): 4.0,  # u1, u2, "7", u4
    }

    async def points(bucket: str) -> list[float]:
        variables = {"id": str(account_id), "from": "2026-10-01", "to": "2026-11-30"}
        found = await api.data(SERIES, {**variables, "bucket": bucket}, auth=key)
        return [p["value"] for p in found["usageSeries"]["points"]]

    # u1 is seen on two days of November: each day counts it, the month once.
    assert await points("MONTH") == [1.0, 4.0]
    daily = await points("DAY")
    assert sum(daily[:31]) == 2.0 and sum(daily[31:]) == 5.0
    # One row per day and distinct value: u1, u2, "7", u4 on the 15th, u1 on the 1st,
    # u3 on 20 and 31 October.
    assert await conn.fetchval("select count(*) from usage_unique_days") == 7


async def test_the_year_turns_between_two_periods(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await _unique_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    async with make_api(clock=FixedClock(new_year + timedelta(days=1))) as api:
        sent = [
            _seen(account_id, "a", "u1", at=new_year - timedelta(microseconds=1)),
            _seen(account_id, "b", "u2", at=new_year - timedelta(days=1)),
            _seen(account_id, "c", "u1", at=new_year),
            _seen(account_id, "d", "u1", at=new_year + timedelta(hours=3)),
        ]
        result = (await post_events(api.client, sent, auth=key)).json()
        assert result["accepted"] == 4
    assert await _counters(conn) == {
        (account_id, datetime(2026, 12, 1, tzinfo=UTC)): 2.0,
        (account_id, new_year): 1.0,
    }


async def test_a_limit_on_a_unique_count_is_checked_crossed_and_rewarded_once(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _unique_catalog(conn, limit=5)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute(
        """insert into milestones (key, name, kind, metric_key, threshold, repeatable,
           created_at) values ('crowd', 'Crowd', 'usage_threshold', 'users', 3, true, $1)""",
        NOW - timedelta(days=400),
    )
    key = await api_key(conn)

    async def check() -> dict[str, Any]:
        found = await api.data(CHECK, {"id": str(account_id), "metric": "users"}, auth=key)
        return dict(found["entitlementCheck"])

    async def send(*users: str) -> None:
        sent = [_seen(account_id, f"{u}-{i}", u) for i, u in enumerate(users)]
        assert (await post_events(api.client, sent, auth=key)).status_code == 200

    await send("a", "b", "a", "b", "a")
    assert await check() == {
        "__typename": "EntitlementCheck",
        "allowed": True,
        "reason": None,
        "remaining": 3.0,
        "tier": None,
    }
    await send("a", "b", "c", "c")  # 3 users: the milestone reached
    await send("a", "b", "c")  # the same users again: nothing reached anew
    assert (await check())["remaining"] == 2.0
    await send("d", "d", "a")  # 4 of 5: 80 % crossed
    await send("e", "a")  # 5 of 5: 100 % crossed, the limit reached
    assert (await check())["reason"] == "LIMIT_REACHED"
    await send("f")  # ingest counts past a hard limit, as for every aggregation
    crossings = await conn.fetch(
        "select threshold from usage_thresholds where metric_key = 'users' order by 1"
    )
    assert [r["threshold"] for r in crossings] == [80, 100]
    assert (
        await conn.fetchval("select count(*) from events where type = 'usage.threshold_crossed'")
        == 2
    )
    assert await conn.fetchval("select count(*) from achievements") == 1
    assert list((await _counters(conn)).values()) == [6.0]
    consumed = await api.data(
        CONSUME, {"id": str(account_id), "metric": "users", "amount": 1, "key": "k"}, auth=key
    )
    assert consumed["usageConsume"]["code"] == "INVALID_INPUT"  # a count of values, not a quota


async def test_a_unique_count_metric_names_its_property_and_has_no_dimensions(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)

    async def create(agg: str, unique: str | None, by: list[str] | None = None) -> Any:
        variables = {"agg": agg, "unique": unique, "by": by, "key": f"{agg}{unique}{by}"}
        return (await api.data(METRIC, variables, auth=key))["metricCreate"]

    assert (await create("UNIQUE_COUNT", None))["field"] == "uniqueProperty"
    assert (await create("SUM", "user"))["field"] == "uniqueProperty"
    assert (await create("UNIQUE_COUNT", "not a name"))["field"] == "uniqueProperty"
    assert (await create("UNIQUE_COUNT", "user", ["region"]))["field"] == "groupBy"
    assert (await create("UNIQUE_COUNT", "user"))["metric"] == {
        "aggregation": "UNIQUE_COUNT",
        "uniqueProperty": "user",
    }
    # Once usage of it is counted, the property it counts is fixed, as its aggregation is.
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    sent = [cloud_event(account_id, "1", type="seen", data={"user": "u1"})]
    assert (await post_events(api.client, sent, auth=key)).json()["accepted"] == 1
    update = METRIC.replace("metricCreate", "metricUpdate")
    variables = {"agg": "UNIQUE_COUNT", "unique": "team", "by": None, "key": "update"}
    refused = (await api.data(update, variables, auth=key))["metricUpdate"]
    assert refused == {"__typename": "InvalidInputError", "field": "uniqueProperty"}
    # Nor can a series split it: the refusal says why, whatever properties are asked for.
    grouped = SERIES.replace('metric: "users"', 'metric: "seen", groupBy: ["user"]').replace(
        "... on UsageSeries", "... on InvalidInputError { field message } ... on UsageSeries"
    )
    day = NOW.date().isoformat()
    series = {"id": str(account_id), "from": day, "to": day, "bucket": "DAY"}
    answer = (await api.data(grouped, series, auth=key))["usageSeries"]
    assert answer == {"field": "groupBy", "message": "a unique_count metric has no dimensions"}


def _concurrent_batches(
    subjects: list[str], events: int, size: int
) -> tuple[list[list[dict[str, Any]]], dict[tuple[str, str], set[str]]]:
    """Batches of `users` events over 30 users, some backdated into October, in which
    every event appears twice (in another batch each time); returns them with the distinct
    users each (subject, month) should count."""
    rng = random.Random(27)
    distinct = []
    expected: dict[tuple[str, str], set[str]] = {}
    for i in range(events):
        subject, user = rng.choice(subjects), f"u{rng.randrange(30)}"
        occurred = NOW - timedelta(hours=rng.randrange(0, 24 * 30))
        distinct.append(_seen(subject, f"e{i}", user, at=occurred))
        expected.setdefault((subject, occurred.strftime("%Y-%m")), set()).add(user)
    twice = distinct + rng.sample(distinct, len(distinct))
    return [twice[i : i + size] for i in range(0, len(twice), size)], expected


async def test_concurrent_and_retried_batches_on_two_servers_count_each_value_once(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    cat = await _unique_catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["pro"]) for _ in range(3)]
    subjects = [str(a) for a in accounts]
    key = await api_key(conn)
    batches, expected = _concurrent_batches(subjects, 600, 40)

    async def send(port: int) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            answers = await asyncio.gather(*(post_events(http, b, auth=key) for b in batches))
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        return [r.json() for r in answers]

    async with serve_live() as one, serve_live() as two:
        first = await asyncio.gather(send(one), send(two))
        retried = await asyncio.gather(send(two), send(one))
    accepted = sum(b["accepted"] for answers in first for b in answers)
    assert accepted == 600  # each of 600 ids once, of the four copies sent
    assert sum(b["accepted"] for answers in retried for b in answers) == 0
    assert all(b["rejected"] == 0 for answers in first + retried for b in answers)
    counted = {
        (str(a), start.strftime("%Y-%m")): v for (a, start), v in (await _counters(conn)).items()
    }
    assert counted == {k: float(len(users)) for k, users in expected.items()}
    # Each day's bucket counts that day's distinct values, as the rows kept for them.
    mismatched = await conn.fetchval(
        """select count(*) from usage_daily d
           full join (select account_id, metric_key, day, count(*) as n
                      from usage_unique_days group by 1, 2, 3) u
               using (account_id, metric_key, day)
           where d.metric_key = 'users' and d.value is distinct from u.n"""
    )
    assert mismatched == 0


async def test_targets_and_impact_read_a_unique_count_as_distinct_values_over_days(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _unique_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute("update outcomes set metric_key = 'users' where key = 'hours_saved'")
    await conn.execute(
        "insert into outcome_targets values ($1, 'hours_saved', 10, $2, $3, '', 'ops', $4)",
        account_id,
        date(2026, 10, 20),
        date(2026, 11, 30),
        NOW,
    )
    key = await api_key(conn)
    sent = [
        _seen(account_id, "1", "u1", at=at("2026-10-25")),
        _seen(account_id, "2", "u2", at=at("2026-10-25")),
        _seen(account_id, "3", "u1", at=at("2026-11-02")),
        _seen(account_id, "4", "u1", at=at("2026-11-03")),
        _seen(account_id, "5", "u3", at=at("2026-11-03")),
    ]
    assert (await post_events(api.client, sent, auth=key)).json()["accepted"] == 5
    # Days' distinct values add up to 5; the target's days hold 3 distinct users.
    [(_, actual)] = await targets_with_actuals(conn, [account_id], NOW.date())
    assert actual == 3.0
    found = await months(conn, account_id, DayRange(date(2026, 10, 1), date(2026, 11, 30)))
    assert [(m.metric_key, m.total, m.peak) for m in found] == [
        ("users", 2.0, 2.0),  # October: u1, u2
        ("users", 2.0, 2.0),  # November: u1, u3
    ]


async def _waiting_on_a_lock(conn: asyncpg.Connection) -> None:
    for _ in range(200):
        if await conn.fetchval(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
            " and datname = current_database()"
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no batch waited for the other's values")


async def test_a_batch_waits_for_anothers_uncommitted_values_and_counts_them_once(
    conn: asyncpg.Connection, dsn: str, api: Api
) -> None:
    cat = await _unique_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    catalog = await load_catalog(conn)
    when = NOW - timedelta(hours=1)

    def held(event_id: str, user: str) -> UsageEvent:
        return UsageEvent(event_id, account_id, "users", 1.0, when, properties={"user": user})

    async def race(outcome: str, first: list[str], second: list[str]) -> dict[str, Any]:
        """A transaction records `first`'s users and holds; POST /events sends `second`'s
        while it does; then the first ends with `outcome`."""
        other = await db.connect(dsn)
        try:
            transaction = other.transaction()
            await transaction.start()
            events = [held(f"{outcome}-held-{u}", u) for u in first]
            await ingest.record_usage(other, ADMIN, events, catalog, NOW, Window())
            sent = [_seen(account_id, f"{outcome}-sent-{u}", u) for u in second]
            posted = asyncio.create_task(post_events(api.client, sent, auth=key))
            await _waiting_on_a_lock(conn)
            assert not posted.done()
            await (transaction.rollback() if outcome == "rollback" else transaction.commit())
            body: dict[str, Any] = (await posted).json()
            return body
        finally:
            await other.close()

    # Rolled back: the waiting batch counts the values as new.
    assert (await race("rollback", ["a", "b"], ["a", "b", "c"]))["accepted"] == 3
    assert list((await _counters(conn)).values()) == [3.0]
    # Committed: the waiting batch finds them counted, and adds only its own new one.
    assert (await race("commit", ["d", "e"], ["a", "d", "e", "f"]))["accepted"] == 4
    assert list((await _counters(conn)).values()) == [6.0]  # a, b, c, d, e, f


async def test_one_number_is_one_value_however_it_is_written(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _unique_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    # 7.0 decoded to a float whose JSON text was "7.0": the same user counted twice.
    written = ["7", "7.0", "7e0", "700e-2", '"7"', "0", "-0.0", "-0"]
    # Past 64 bits an integer decodes as a float, and past 2^53 a float holds several:
    # 2^64 + 1 and 2^64 + 2 were one user. Such numbers are refused, and so is an integer
    # of that size that decodes exactly (JSON does not tell it from a float); as strings
    # they count.
    lossy = [str(2**64 + 1), str(2**64 + 2), str(-(2**63) - 1), "1.2345678901234567e19", "1e16",
             "12345678901234567890"]  # fmt: skip
    as_text = [f'"{2**64 + 1}"', f'"{2**64 + 2}"']
    results = []
    for i, user in enumerate([*written, *lossy, *as_text]):
        sent = (
            f'{{"specversion": "1.0", "id": "{i}", "source": "svc", "type": "users",'
            f' "subject": "{account_id}", "data": {{"user": {user}}}}}'
        ).encode()
        results.append((await post_events(api.client, sent, auth=key, content_type=SINGLE)).json())

    accepted = [r["accepted"] for r in results]
    assert accepted == [1] * len(written) + [0] * len(lossy) + [1] * len(as_text), results
    reasons = {r["results"][0].get("reason") for r in results[len(written) : -len(as_text)]}
    assert reasons == {"INVALID_PROPERTY"}, results
    # 7, 0, and the two large ones sent as text.
    assert list((await _counters(conn)).values()) == [4.0]


async def test_a_number_of_2_53_or_more_is_refused_whether_integer_or_float(
    conn: asyncpg.Connection, api: Api
) -> None:
    """JSON does not tell 10000000000000000 from 1e16: the integer was counted where the
    float was refused. At 2^53 - 1 either way a value counts; at 2^53, through usageRecord
    or POST /events, it is refused."""
    cat = await _unique_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    edge = 2**53
    fine = [edge - 1, -(edge - 1)]
    refused = [edge, -edge, edge + 1, 123456789012345678]
    users = [*fine, *refused]
    events = [
        {**event(account_id, f"g{i}", 1, metric="users"), "properties": {"user": u}}
        for i, u in enumerate(users)
    ]
    recorded = (await api.data(RECORD, {"events": events}, auth=key))["usageRecord"]
    expected = [None] * len(fine) + ["INVALID_PROPERTY"] * len(refused)
    assert [r["reason"] for r in recorded["results"]] == expected, recorded
    posted = []
    for i, user in enumerate(users):
        sent = (
            f'{{"specversion": "1.0", "id": "c{i}", "source": "svc", "type": "users",'
            f' "subject": "{account_id}", "data": {{"user": {user}}}}}'
        ).encode()
        answer = (await post_events(api.client, sent, auth=key, content_type=SINGLE)).json()
        posted.append(answer["results"][0].get("reason"))
    assert posted == expected
    assert list((await _counters(conn)).values()) == [2.0]  # the two values that count
