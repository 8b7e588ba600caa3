"""usageSeries end to end: events recorded through usageRecord, read back per bucket."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.metering_api import RECORD, at, event

SERIES = """
query Series($id: ID!, $metric: String!, $from: Date!, $to: Date!, $bucket: UsageBucket!) {
  usageSeries(accountId: $id, metric: $metric, from: $from, to: $to, bucket: $bucket) {
    __typename
    ... on UsageSeries { metric { key } bucket points { start end value } }
    ... on Error { code message }
  }
}
"""


async def record(api: Api, key: str, account_id: UUID, readings: list[Any]) -> None:
    events = [
        event(account_id, f"e{i}", value, metric=metric, at=at(day, hour))
        for i, (metric, day, hour, value) in enumerate(readings)
    ]
    data = await api.data(RECORD, {"events": events}, auth=key)
    assert data["usageRecord"]["accepted"] == len(events)


async def series(api: Api, auth: str, account_id: UUID, **kw: str) -> dict[str, Any]:
    variables = {"id": str(account_id), "metric": "m0", "bucket": "DAY", **kw}
    data = await api.data(SERIES, variables, auth=auth)
    result: dict[str, Any] = data["usageSeries"]
    return result


def points(result: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    return [(p["start"], p["end"], p["value"]) for p in result["points"]]


async def test_a_sum_rolls_up_by_day_iso_week_and_month_clipped_to_the_range(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    await record(
        api,
        key,
        account_id,
        [
            ("m0", "2026-10-20", 9, 3),
            ("m0", "2026-10-26", 1, 2),
            ("m0", "2026-10-26", 23, 3),
            ("m0", "2026-11-01", 12, 2),
            ("m0", "2026-11-14", 12, 7),
        ],
    )
    me = frontend_token(account_id)
    days = await series(api, me, account_id, **{"from": "2026-10-25", "to": "2026-10-27"})
    assert days["bucket"] == "DAY" and days["metric"] == {"key": "m0"}
    assert points(days) == [
        ("2026-10-25", "2026-10-25", 0),
        ("2026-10-26", "2026-10-26", 5),
        ("2026-10-27", "2026-10-27", 0),
    ]
    weeks = await series(
        api, me, account_id, bucket="WEEK", **{"from": "2026-10-21", "to": "2026-11-15"}
    )
    assert points(weeks) == [
        ("2026-10-21", "2026-10-25", 0),  # the 20th is before the range
        ("2026-10-26", "2026-11-01", 7),
        ("2026-11-02", "2026-11-08", 0),
        ("2026-11-09", "2026-11-15", 7),
    ]
    months = await series(
        api, me, account_id, bucket="MONTH", **{"from": "2026-10-01", "to": "2026-11-30"}
    )
    assert points(months) == [("2026-10-01", "2026-10-31", 8), ("2026-11-01", "2026-11-30", 9)]


async def test_gauges_report_the_peak_or_the_last_reading_and_null_without_one(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    await conn.execute("insert into metrics values ('peak', 'Peak', 'users', 'max', 'never')")
    await conn.execute("insert into metrics values ('gauge', 'Gauge', 'GB', 'latest', 'never')")
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    await record(
        api,
        key,
        account_id,
        [
            ("peak", "2026-10-20", 12, 3),
            ("peak", "2026-10-21", 12, 9),
            ("peak", "2026-10-22", 12, 5),
            ("gauge", "2026-10-20", 12, 10),
            ("gauge", "2026-10-22", 8, 4),
            ("gauge", "2026-10-22", 7, 6),  # earlier the same day: not the last reading
        ],
    )
    week = {"bucket": "WEEK", "from": "2026-10-19", "to": "2026-11-01"}
    peak = await series(api, key, account_id, metric="peak", **week)
    assert points(peak) == [("2026-10-19", "2026-10-25", 9), ("2026-10-26", "2026-11-01", None)]
    gauge = await series(api, key, account_id, metric="gauge", **week)
    assert points(gauge) == [("2026-10-19", "2026-10-25", 4), ("2026-10-26", "2026-11-01", None)]


async def test_bad_ranges_and_metrics_are_invalid_input_and_strangers_see_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    reseller = await factories.partner(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    reversed_range = {"from": "2026-11-02", "to": "2026-11-01"}
    result = await series(api, key, account_id, **reversed_range)
    assert result["code"] == "INVALID_INPUT"
    four_years = {"from": "2023-01-01", "to": "2026-12-31"}
    assert (await series(api, key, account_id, **four_years))["code"] == "INVALID_INPUT"
    assert (await series(api, key, account_id, bucket="WEEK", **four_years))["points"]
    unknown = {"metric": "nope", "from": "2026-11-01", "to": "2026-11-02"}
    assert (await series(api, key, account_id, **unknown))["code"] == "INVALID_INPUT"
    partner = await api_key(conn, Role.PARTNER, partner_id=reseller)
    day = {"from": "2026-11-01", "to": "2026-11-01"}
    assert (await series(api, partner, account_id, **day))["code"] == "NOT_FOUND"
    bad = await api.post(
        SERIES,
        {
            "id": str(account_id),
            "metric": "m0",
            "bucket": "DAY",
            "from": "yesterday",
            "to": "2026-11-01",
        },
        auth=key,
    )
    assert bad.status_code == 200 and bad.json()["errors"][0]["message"].startswith("Variable")


ACCOUNT_SERIES = """
query AccountSeries($id: ID!, $from: Date!, $to: Date!, $bucket: UsageBucket!) {
  account(id: $id) { ... on Account {
    usage { metric { key } }
    usageSeries(from: $from, to: $to, bucket: $bucket) {
      __typename
      ... on UsageSeriesList { series { metric { key } bucket points { start end value } } }
      ... on Error { code message }
    }
  } }
}
"""


async def test_the_account_view_carries_every_usage_metric_as_usage_series_gives_it(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, metrics=3)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    await record(
        api,
        key,
        account_id,
        [
            ("m0", "2026-10-20", 9, 3),
            ("m1", "2026-10-26", 1, 2),
            ("m2", "2026-10-26", 23, 3),
            ("m0", "2026-11-01", 12, 2),
            ("m1", "2026-11-14", 12, 7),
        ],
    )
    me = frontend_token(account_id)
    ranges = [
        ("DAY", "2026-10-19", "2026-11-15"),
        ("WEEK", "2026-10-01", "2026-11-30"),
        ("MONTH", "2026-01-01", "2026-12-31"),
    ]
    for bucket, first, last in ranges:
        window = {"from": first, "to": last, "bucket": bucket}
        data = await api.data(ACCOUNT_SERIES, {"id": str(account_id), **window}, auth=me)
        view = data["account"]
        found = view["usageSeries"]["series"]
        assert [s["metric"]["key"] for s in found] == [u["metric"]["key"] for u in view["usage"]]
        assert len(found) == 3
        for one in found:
            alone = await series(api, me, account_id, metric=one["metric"]["key"], **window)
            assert {"__typename": "UsageSeries", **one} == alone


async def test_the_account_view_refuses_a_reversed_or_too_long_range(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    me = frontend_token(account_id)
    for first, last in [("2026-11-02", "2026-11-01"), ("2020-01-01", "2026-01-01")]:
        window = {"id": str(account_id), "from": first, "to": last, "bucket": "DAY"}
        data = await api.data(ACCOUNT_SERIES, window, auth=me)
        refused = data["account"]["usageSeries"]
        assert refused["__typename"] == "InvalidInputError" and refused["code"] == "INVALID_INPUT"
