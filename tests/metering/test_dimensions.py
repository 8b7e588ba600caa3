"""Dimensions end to end: a metric that groups by event properties counts each group
beside its total, series show the groups, and the number of groups per account, metric
and period is bounded exactly, also under concurrent batches."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Principal, Role
from benefitgate.metering.groups import MAX_GROUPS
from benefitgate.metering.models import UsageEvent
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event, record_directly

ADMIN = Principal(Role.ADMIN, subject="test-admin")
SERIES = """
query Series($id: ID!, $by: [String!], $from: Date!, $to: Date!) {
  usageSeries(accountId: $id, metric: "calls", from: $from, to: $to, bucket: MONTH,
              groupBy: $by) {
    __typename
    ... on UsageSeries { points { value } groups { dimensions { name value } points { value } } }
    ... on InvalidInputError { field }
  }
}
"""
VIEW = """
query View($id: ID!, $by: [String!]) { account(id: $id) { ... on Account {
  usage(groupBy: $by) { metric { key } used groups { dimensions { name value } value } } } } }
"""
GAUGE_SERIES = SERIES.replace('metric: "calls"', 'metric: "gauge"')
METRIC = """
mutation($by: [String!], $key: String!) {
  OP(key: "grouped", name: "Grouped", unit: "calls", aggregation: SUM,
     reset: BILLING_PERIOD, groupBy: $by, idempotencyKey: $key) {
    __typename ... on MetricChanged { metric { groupBy } } ... on InvalidInputError { field }
  }
}
"""


async def _grouped_catalog(conn: asyncpg.Connection) -> dict[str, Any]:
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('calls', 'Calls', 'calls', 'sum', 'billing_period',"
        " '{region,method}')"
    )
    for version in cat["versions"].values():
        await conn.execute("insert into tier_limits values ($1, 'calls', 'hard', 1000)", version)
    return cat


def _call(subject: UUID, event_id: str, value: float, **data: object) -> dict[str, Any]:
    return cloud_event(subject, event_id, value, type="calls", data=data)


async def test_groups_are_counted_beside_the_total_and_series_roll_them_up(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _grouped_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    sent = [
        _call(account_id, "1", 1, region="eu", method="GET"),
        _call(account_id, "2", 2, region="eu", method="POST"),
        _call(account_id, "3", 4, region="us", method="GET", route="/a"),  # not grouped by
        _call(account_id, "4", 8, method="GET"),  # no region: its region is null
        _call(account_id, "5", 16, region=7, method=True),  # as their JSON text
        _call(account_id, "6", 32, region={"nested": 1}),
        _call(account_id, "7", 64, region="x" * 201),
        _call(account_id, "8", 128, region=2**64 + 1),  # decodes as a float 2^64 + 2 is too
    ]
    result = (await post_events(api.client, sent, auth=key)).json()
    assert [r["reason"] for r in result["results"]] == [None] * 5 + ["INVALID_DIMENSION"] * 3

    async def series(by: list[str] | None) -> dict[str, Any]:
        variables = {"id": str(account_id), "by": by, "from": "2026-11-01", "to": "2026-11-30"}
        found: dict[str, Any] = (await api.data(SERIES, variables, auth=key))["usageSeries"]
        return found

    def groups(found: dict[str, Any]) -> dict[tuple[Any, ...], float]:
        return {
            tuple(d["value"] for d in g["dimensions"]): g["points"][0]["value"]
            for g in found["groups"]
        }

    total = await series(None)
    assert total["points"] == [{"value": 31.0}] and total["groups"] == []
    assert groups(await series(["region"])) == {
        ("eu",): 3.0,
        ("us",): 4.0,
        (None,): 8.0,
        ("7",): 16.0,
    }
    assert groups(await series(["method", "region"])) == {
        ("GET", "eu"): 1.0,
        ("POST", "eu"): 2.0,
        ("GET", "us"): 4.0,
        ("GET", None): 8.0,
        ("true", "7"): 16.0,
    }
    assert (await series(["route"]))["field"] == "groupBy"

    async def view(by: list[str] | None) -> dict[str, Any]:
        found = await api.data(VIEW, {"id": str(account_id), "by": by}, auth=key)
        return {u["metric"]["key"]: u for u in found["account"]["usage"]}

    usage = await view(["region"])
    assert usage["calls"]["used"] == 31.0
    by_region = {g["dimensions"][0]["value"]: g["value"] for g in usage["calls"]["groups"]}
    assert by_region == {"eu": 3.0, "us": 4.0, None: 8.0, "7": 16.0}
    assert usage["m0"]["groups"] == []  # m0 does not group by region
    assert (await view(None))["calls"]["groups"] == []
    # Limits stay on the total: basic's hard limit of 100 is not reached by any group.
    assert (
        float(await conn.fetchval("select value from usage_counters where metric_key = 'calls'"))
        == 31.0
    )


def _in_group(account_id: UUID, event_id: str, region: str) -> UsageEvent:
    at = NOW - timedelta(hours=1)
    return UsageEvent(event_id, account_id, "calls", 1.0, at, properties={"region": region})


async def test_concurrent_batches_never_open_more_groups_than_the_bound(
    conn: asyncpg.Connection, dsn: str
) -> None:
    cat = await _grouped_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    batches = [
        [_in_group(account_id, f"b{b}-{i}", f"r{b}-{i}") for i in range(30)] for b in range(6)
    ]
    results = await asyncio.gather(*(record_directly(dsn, batch) for batch in batches))

    reasons = [o.reason.name if o.reason else o.status.name for r in results for o in r]
    assert reasons.count("ACCEPTED") == MAX_GROUPS
    assert reasons.count("TOO_MANY_GROUPS") == 180 - MAX_GROUPS
    assert await conn.fetchval("select count(*) from usage_group_counters") == MAX_GROUPS
    # Past the bound, an existing group still counts; a new one is refused.
    existing = await conn.fetchval(
        "select dimensions ->> 'region' from usage_group_counters limit 1"
    )
    late = await record_directly(
        dsn, [_in_group(account_id, "late-1", existing), _in_group(account_id, "late-2", "new")]
    )
    assert [o.reason.name if o.reason else o.status.name for o in late] == [
        "ACCEPTED",
        "TOO_MANY_GROUPS",
    ]
    total = await conn.fetchval("select value from usage_counters where metric_key = 'calls'")
    assert float(total) == MAX_GROUPS + 1  # refused events count nowhere


async def test_group_by_is_checked_and_fixed_once_usage_is_counted(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)

    async def change(op: str, by: list[str] | None, idem: str) -> dict[str, Any]:
        variables = {"by": by, "key": idem}
        found: dict[str, Any] = (await api.data(METRIC.replace("OP", op), variables, auth=key))[op]
        return found

    for bad in (["a", "b", "c", "d"], ["a", "a"], ["no-dashes"], ["1st"]):
        assert (await change("metricCreate", bad, f"bad-{bad}"))["field"] == "groupBy"
    created = await change("metricCreate", ["region", "method"], "ok")
    assert created["metric"]["groupBy"] == ["region", "method"]
    changed = await change("metricUpdate", ["region"], "fewer")
    assert changed["metric"]["groupBy"] == ["region"]

    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await factories.usage(conn, account_id, "grouped", 1)
    assert (await change("metricUpdate", ["method"], "after"))["field"] == "groupBy"


async def test_usage_record_events_are_grouped_by_their_properties(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _grouped_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    events = [
        {**event(account_id, "1", 2, metric="calls"), "properties": {"region": "eu"}},
        {**event(account_id, "2", 3, metric="calls"), "properties": {"region": "eu", "x": [1]}},
        event(account_id, "3", 5, metric="calls"),  # no properties: the null group
        {**event(account_id, "4", 7, metric="calls"), "properties": {"region": ["eu"]}},
    ]
    result = (await api.data(RECORD, {"events": events}, auth=key))["usageRecord"]
    assert [r["reason"] for r in result["results"]] == [None, None, None, "INVALID_DIMENSION"]
    rows = await conn.fetch(
        "select dimensions ->> 'region' as region, value from usage_group_counters"
    )
    assert {r["region"]: float(r["value"]) for r in rows} == {"eu": 5.0, None: 5.0}


async def test_one_number_is_one_group_however_it_is_written(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _grouped_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    # 7.0 decoded to a float whose JSON text was "7.0", a group apart from 7's; -0 from 0.
    for i, region in enumerate(["7", "7.0", "7e0", '"7"', "0", "-0.0", "1.5"]):
        sent = (
            f'[{{"specversion": "1.0", "id": "{i}", "source": "svc", "type": "calls",'
            f' "subject": "{account_id}", "data": {{"value": 1, "region": {region}}}}}]'
        ).encode()
        result = (await post_events(api.client, sent, auth=key)).json()
        assert result["accepted"] == 1, result
    variables = {"id": str(account_id), "by": ["region"], "from": "2026-11-01", "to": "2026-11-30"}
    found = (await api.data(SERIES, variables, auth=key))["usageSeries"]
    groups = {g["dimensions"][0]["value"]: g["points"][0]["value"] for g in found["groups"]}
    assert groups == {"7": 4.0, "0": 2.0, "1.5": 1.0}


async def test_a_group_of_a_number_of_2_53_or_more_is_refused_whether_integer_or_float(
    conn: asyncpg.Connection, api: Api
) -> None:
    """JSON does not tell 10000000000000000 from 1e16: the integer opened a group where
    the float was refused. At 2^53 - 1 either way a value is a group; at 2^53, through
    usageRecord or POST /events, it is refused."""
    cat = await _grouped_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    edge = 2**53
    fine = [edge - 1, -(edge - 1)]
    refused = [edge, -edge, edge + 1, 123456789012345678]
    regions = [*fine, *refused]
    events = [
        {**event(account_id, f"g{i}", 1, metric="calls"), "properties": {"region": r}}
        for i, r in enumerate(regions)
    ]
    recorded = (await api.data(RECORD, {"events": events}, auth=key))["usageRecord"]
    expected = [None] * len(fine) + ["INVALID_DIMENSION"] * len(refused)
    assert [r["reason"] for r in recorded["results"]] == expected, recorded
    posted = []
    for i, region in enumerate(regions):
        sent = (
            f'[{{"specversion": "1.0", "id": "c{i}", "source": "svc", "type": "calls",'
            f' "subject": "{account_id}", "data": {{"value": 1, "region": {region}}}}}]'
        ).encode()
        posted.append((await post_events(api.client, sent, auth=key)).json()["results"][0])
    assert [p.get("reason") for p in posted] == expected, posted
    rows = await conn.fetch(
        "select dimensions ->> 'region' as region, value from usage_group_counters"
    )
    assert {r["region"]: float(r["value"]) for r in rows} == {str(v): 2.0 for v in fine}


async def test_a_redelivered_event_with_changed_properties_takes_no_place_among_the_groups(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A careless client resends an event it was answered for with a property changed: it
    is a duplicate, counted nowhere, and opens no group. It was counted as opening one:
    with 99 groups it took the last place and a new event of its batch was refused, and
    at the bound it was refused itself (TOO_MANY_GROUPS), though counted before."""
    cat = await _grouped_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)

    async def post(*events: dict[str, Any]) -> list[str]:
        result = (await post_events(api.client, list(events), auth=key)).json()
        return [r["reason"] or r["status"] for r in result["results"]]

    first = [_call(account_id, f"e{i}", 1, region=f"r{i}") for i in range(MAX_GROUPS - 1)]
    assert set(await post(*first)) == {"ACCEPTED"}
    assert await post(
        _call(account_id, "e0", 1, region="changed"), _call(account_id, "new", 1, region="new")
    ) == ["DUPLICATE", "ACCEPTED"]
    assert await post(_call(account_id, "e1", 1, region="changed again")) == ["DUPLICATE"]
    assert await post(_call(account_id, "past", 1, region="one too many")) == ["TOO_MANY_GROUPS"]
    # Through usageRecord alike (its events' source is '').
    redelivered = {**event(account_id, "u0", 1, metric="calls"), "properties": {"region": "r0"}}
    changed = {**redelivered, "properties": {"region": "changed"}}
    for sent, expected in ((redelivered, "ACCEPTED"), (changed, "DUPLICATE")):
        result = (await api.data(RECORD, {"events": [sent]}, auth=key))["usageRecord"]
        assert [r["reason"] or r["status"] for r in result["results"]] == [expected]
    rows = await conn.fetch("select dimensions ->> 'region' as r, value from usage_group_counters")
    assert len(rows) == MAX_GROUPS and "changed" not in {r["r"] for r in rows}
    assert float(await conn.fetchval("select sum(value) from usage_group_counters")) == 101.0


async def test_a_gauges_groups_break_ties_at_one_time_as_its_total_does(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Of readings at one time the greater event id is the latest, then the greater
    source: the total took it, but each group took the first of the batch, so that a
    gauge with one group read 4 in the group and 8 in total."""
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('gauge', 'g', 'x', 'latest', 'never', '{region}')"
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)

    def reading(event_id: str, value: float, source: str = "svc") -> dict[str, Any]:
        data = {"region": "eu"}
        return cloud_event(account_id, event_id, value, type="gauge", source=source, data=data)

    tied = [reading("g-a", 4), reading("g-c", 8), reading("g-b", 2)]
    assert (await post_events(api.client, tied, auth=key)).json()["accepted"] == 3
    same_id = [reading("h", 16, "svc-a"), reading("h", 32, "svc-c"), reading("h", 64, "svc-b")]
    later = [{**r, "time": (NOW - timedelta(minutes=30)).isoformat()} for r in same_id]
    assert (await post_events(api.client, later, auth=key)).json()["accepted"] == 3
    for table, values in (("usage_counters", [32.0]), ("usage_group_counters", [32.0])):
        found = await conn.fetch(f"select value from {table}")  # noqa: S608 (constant)
        assert [float(r["value"]) for r in found] == values, table
    days = await conn.fetch(
        "select value from usage_daily union all select value from usage_group_daily"
    )
    assert [float(r["value"]) for r in days] == [32.0, 32.0]


async def test_a_gauges_reading_at_one_time_is_the_same_whichever_batch_came_first(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Across batches as within one, the greater event id (then source) is the latest of
    readings at one time: the batch written last won, so two concurrent batches left
    either reading, by the order they committed in."""
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('gauge', 'g', 'x', 'latest', 'never', '{region}')"
    )
    key = await api_key(conn)
    at = NOW - timedelta(hours=1)

    def reading(account_id: UUID, event_id: str, value: float, source: str) -> dict[str, Any]:
        data = {"region": "eu"}
        return cloud_event(
            account_id, event_id, value, type="gauge", source=source, data=data, at=at
        )

    for order in (1, -1):
        account_id = await factories.account(conn, cat["versions"]["basic"])
        sent = [
            [reading(account_id, "g-a", 4, "svc")],
            [reading(account_id, "g-c", 8, "svc"), reading(account_id, "g-b", 2, "svc")],
            [reading(account_id, "g-c", 16, "sv")],  # the same id from a lesser source
        ][::order]
        for batch in sent:
            assert (await post_events(api.client, batch, auth=key)).json()["rejected"] == 0
        found = await conn.fetch(
            """
            select value from usage_counters where account_id = $1 union all
            select value from usage_daily where account_id = $1 union all
            select value from usage_group_counters where account_id = $1 union all
            select value from usage_group_daily where account_id = $1
            """,
            account_id,
        )
        assert [float(r["value"]) for r in found] == [8.0] * 4, order


async def test_a_gauges_groups_rolled_up_break_ties_as_its_total_does(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Grouped by fewer properties than the metric's, a gauge's finer groups are rolled
    up: of their readings at one time the greater event id (then source) is the latest,
    as in the total. The roll-up took whichever group came first, so a gauge whose total
    read 8 read 4 in its one region, in the view and in its series alike."""
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('gauge', 'g', 'x', 'latest', 'never', '{region,method}')"
    )
    for version in cat["versions"].values():
        await conn.execute("insert into tier_limits values ($1, 'gauge', 'soft', 1000)", version)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)

    def reading(event_id: str, value: float, method: str, source: str = "svc") -> dict[str, Any]:
        data = {"region": "eu", "method": method}
        return cloud_event(account_id, event_id, value, type="gauge", source=source, data=data)

    tied = [reading("g-b", 8, "post"), reading("g-a", 4, "get"), reading("g-a", 2, "put", "sv")]
    assert (await post_events(api.client, tied, auth=key)).json()["accepted"] == 3

    view = (await api.data(VIEW, {"id": str(account_id), "by": ["region"]}, auth=key))["account"]
    [gauge] = [u for u in view["usage"] if u["metric"]["key"] == "gauge"]
    assert (gauge["used"], [g["value"] for g in gauge["groups"]]) == (8.0, [8.0])
    day = (NOW - timedelta(hours=1)).date().isoformat()
    variables = {"id": str(account_id), "by": ["region"], "from": day, "to": day}
    series = (await api.data(GAUGE_SERIES, variables, auth=key))["usageSeries"]
    assert [p["value"] for p in series["points"]] == [8.0]
    assert [[p["value"] for p in g["points"]] for g in series["groups"]] == [[8.0]]
