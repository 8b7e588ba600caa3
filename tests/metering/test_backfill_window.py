"""The backfill window as a setting: how far back events may be dated, through both ways
in, with event ids deduplicated for as long as an event can be backdated."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from tests.conftest import MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event


def test_the_window_and_retention_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENEFITGATE_BACKFILL_DAYS", "90")
    monkeypatch.setenv("BENEFITGATE_USAGE_RETENTION_DAYS", "400")
    settings = Settings.from_env()
    assert (settings.backfill_days, settings.usage_retention_days) == (90, 400)
    monkeypatch.delenv("BENEFITGATE_BACKFILL_DAYS")
    monkeypatch.delenv("BENEFITGATE_USAGE_RETENTION_DAYS")
    assert (Settings.from_env().backfill_days, Settings.from_env().usage_retention_days) == (35, 0)


async def test_a_longer_window_takes_older_events_and_keeps_their_ids_as_long(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    old = NOW - timedelta(days=80)
    sent = [
        cloud_event(account_id, "old", at=old),
        cloud_event(account_id, "too-old", at=NOW - timedelta(days=90, seconds=1)),
    ]
    async with make_api() as api:  # 35 days by default
        body = (await post_events(api.client, sent, auth=key)).json()
        assert [r["reason"] for r in body["results"]] == ["OUTSIDE_WINDOW"] * 2
        assert (
            body["results"][0]["message"]
            == "`time` must be at most 35 days back and 5 minutes ahead"
        )
    async with make_api(backfill_days=90) as api:
        body = (await post_events(api.client, sent, auth=key)).json()
        assert [r["status"] for r in body["results"]] == ["ACCEPTED", "REJECTED"]
        assert body["results"][1]["message"].startswith("`time` must be at most 90 days back")
        recorded = await api.data(
            RECORD, {"events": [event(account_id, "old-gql", at=old)]}, auth=key
        )
        assert recorded["usageRecord"]["accepted"] == 1
        recent = cloud_event(account_id, "recent")  # an hour before NOW
        assert (await post_events(api.client, [recent], auth=key)).json()["accepted"] == 1
    await conn.execute(
        "insert into usage_event_ids values ($1, 'ancient', $2, 'svc')",
        account_id,
        NOW - timedelta(days=10),
    )
    # 85 days on, a replica with the same window prunes ids as it starts (those received
    # more than 91 days before): the recent event, still inside the window, is still a
    # duplicate; a 35-day horizon would have forgotten its id and counted it twice.
    async with make_api(backfill_days=90, clock=FixedClock(NOW + timedelta(days=85))) as api:
        body = (await post_events(api.client, [recent], auth=key)).json()
        assert body["results"][0]["status"] == "DUPLICATE"
    kept = await conn.fetchval("select array_agg(event_id order by event_id) from usage_event_ids")
    assert kept == ["old", "old-gql", "recent"]


async def test_a_retention_shorter_than_the_window_stops_the_start(make_api: MakeApi) -> None:
    with pytest.raises(ValueError, match="must cover the backfill window"):
        async with make_api(backfill_days=90, usage_retention_days=60):
            pass
