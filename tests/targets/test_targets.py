"""Outcome targets end to end: set by internal tools, progress on the account view."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.common.quantities import MAX_PERCENT
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.metering_api import RECORD, at, event

SET = """
mutation Set($id: ID!, $outcome: String!, $target: Float!, $from: Date!, $to: Date!,
             $note: String! = "") {
  outcomeTargetSet(accountId: $id, outcome: $outcome, target: $target, from: $from, to: $to,
                   note: $note) {
    __typename
    ... on OutcomeTargetProgress { outcome { key metric { key } } target start end note setBy
                                   actual percent met }
    ... on InvalidInputError { field }
    ... on Error { code message }
  }
}
"""
REMOVE = """
mutation Remove($id: ID!, $outcome: String!) {
  outcomeTargetRemove(accountId: $id, outcome: $outcome) {
    __typename ... on TargetRemoved { removed } ... on Error { code }
  }
}
"""
VIEW = """
query View($id: ID!) { account(id: $id) { ... on Account {
  outcomeTargets { outcome { key } target actual percent met } } } }
"""
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


async def measured_catalog(conn: asyncpg.Connection) -> dict[str, Any]:
    """The factory catalog plus two measured outcomes: hours saved (a sum, to increase)
    and days to insight (a latest reading, to decrease)."""
    cat = await factories.catalog(conn, metrics=1)
    await conn.execute("insert into metrics values ('saved', 'Saved', 'hours', 'sum', 'never')")
    await conn.execute("insert into metrics values ('tti', 'TTI', 'days', 'latest', 'never')")
    await conn.execute("update outcomes set metric_key = 'saved' where key = 'hours_saved'")
    await conn.execute(
        "insert into outcomes values ('insight', 'Time to insight', 'days', 'decrease', '', 'tti')"
    )
    await conn.execute("insert into outcomes values ('nps', 'NPS', 'points', 'increase', '')")
    return cat


def set_vars(account_id: UUID, outcome: str, target: float, **kw: str) -> dict[str, Any]:
    return {"id": str(account_id), "outcome": outcome, "target": target, **NOVEMBER, **kw}


async def events_of(conn: asyncpg.Connection, account_id: UUID) -> list[str]:
    rows = await conn.fetch(
        "select type from events where account_id = $1 and type like 'outcome%' order by id",
        account_id,
    )
    return [r["type"] for r in rows]


async def test_progress_follows_recorded_usage_whichever_way_the_outcome_moves(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await measured_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    readings = [
        ("saved", "2026-10-30", 12, 50),  # before the target's range
        ("saved", "2026-11-02", 12, 30),
        ("saved", "2026-11-10", 12, 15),
        ("tti", "2026-11-03", 12, 12),
        ("tti", "2026-11-12", 12, 8),
    ]
    events = [
        event(account_id, f"e{i}", value, metric=metric, at=at(day, hour))
        for i, (metric, day, hour, value) in enumerate(readings)
    ]
    assert (await api.data(RECORD, {"events": events}, auth=key))["usageRecord"]["accepted"] == 5
    saved = await api.data(SET, set_vars(account_id, "hours_saved", 60, note="Q4"), auth=key)
    assert saved["outcomeTargetSet"].pop("setBy").startswith("key:")  # the API key's subject
    assert saved["outcomeTargetSet"] == {
        "__typename": "OutcomeTargetProgress",
        "outcome": {"key": "hours_saved", "metric": {"key": "saved"}},
        "target": 60,
        "start": "2026-11-01",
        "end": "2026-11-30",
        "note": "Q4",
        "actual": 45,
        "percent": 75,
        "met": False,
    }
    await api.data(SET, set_vars(account_id, "insight", 4), auth=key)
    await api.data(SET, set_vars(account_id, "nps", 40), auth=key)
    view = await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id))
    assert view["account"]["outcomeTargets"] == [
        {
            "outcome": {"key": "hours_saved"},
            "target": 60,
            "actual": 45,
            "percent": 75,
            "met": False,
        },
        {"outcome": {"key": "insight"}, "target": 4, "actual": 8, "percent": 50, "met": False},
        {"outcome": {"key": "nps"}, "target": 40, "actual": None, "percent": None, "met": False},
    ]
    lower = await api.data(SET, set_vars(account_id, "hours_saved", 45), auth=key)
    assert lower["outcomeTargetSet"]["met"] is True


async def test_setting_the_same_target_again_writes_one_event_even_concurrently(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await measured_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    variables = set_vars(account_id, "hours_saved", 60)
    results = await asyncio.gather(*(api.data(SET, variables, auth=key) for _ in range(8)))
    assert {r["outcomeTargetSet"]["__typename"] for r in results} == {"OutcomeTargetProgress"}
    assert await events_of(conn, account_id) == ["outcome_target.set"]
    await api.data(SET, set_vars(account_id, "hours_saved", 70), auth=key)
    assert await conn.fetchval("select target from outcome_targets") == 70
    removed = [
        await api.data(REMOVE, {"id": str(account_id), "outcome": "hours_saved"}, auth=key)
        for _ in range(2)
    ]
    assert [r["outcomeTargetRemove"]["removed"] for r in removed] == [True, False]
    assert await events_of(conn, account_id) == [
        "outcome_target.set",
        "outcome_target.set",
        "outcome_target.removed",
    ]


async def test_bad_targets_are_refused_with_the_field_and_nothing_written(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await measured_catalog(conn)
    reseller = await factories.partner(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"], partner_id=reseller)
    key = await api_key(conn)

    async def outcome(auth: str = key, **kw: Any) -> dict[str, Any]:
        variables = {**set_vars(account_id, "hours_saved", 60), **kw}
        result: dict[str, Any] = (await api.data(SET, variables, auth=auth))["outcomeTargetSet"]
        return result

    assert (await outcome(outcome="nope"))["field"] == "outcome"
    assert (await outcome(target=-1))["field"] == "target"
    assert (await outcome(to="2026-10-31"))["field"] == "to"
    assert (await outcome(note="x" * 501))["field"] == "note"
    assert (await outcome(id="00000000-0000-0000-0000-000000000000"))["code"] == "NOT_FOUND"
    partner = await api_key(conn, Role.PARTNER, partner_id=reseller)
    assert (await outcome(auth=partner))["code"] == "FORBIDDEN"
    assert (await outcome(auth=frontend_token(account_id)))["code"] == "FORBIDDEN"
    assert await conn.fetchval("select count(*) from outcome_targets") == 0
    assert await events_of(conn, account_id) == []


async def test_a_target_too_small_for_its_share_is_refused_and_one_stored_shows_the_largest_percent(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A target of 5e-324 made actual / target * 100 infinite, which GraphQL's Float
    refused: the view failed on `outcomeTargets.percent`. Targets nearer 0 than 10^-12 are
    refused now; one stored before that bound saturates at the largest float, and is met."""
    cat = await measured_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    saved = event(account_id, "e1", 5, metric="saved", at=at("2026-11-02"))
    assert (await api.data(RECORD, {"events": [saved]}, auth=key))["usageRecord"]["accepted"] == 1
    for tiny in (5e-324, 9.99e-13):
        refused = await api.data(SET, set_vars(account_id, "hours_saved", tiny), auth=key)
        assert refused["outcomeTargetSet"] == {
            "__typename": "InvalidInputError",
            "field": "target",
            "code": "INVALID_INPUT",
            "message": "give a target of 0, or from 10^-12 to 10^15",
        }
    assert await conn.fetchval("select count(*) from outcome_targets") == 0
    smallest = await api.data(SET, set_vars(account_id, "hours_saved", 1e-12), auth=key)
    assert smallest["outcomeTargetSet"]["percent"] == 5e14
    await conn.execute("update outcome_targets set target = 5e-324")
    view = await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id))
    assert view["account"]["outcomeTargets"] == [
        {"outcome": {"key": "hours_saved"}, "target": 5e-324, "actual": 5,
         "percent": MAX_PERCENT, "met": True},
    ]  # fmt: skip


async def test_a_target_is_stored_as_written(conn: asyncpg.Connection, api: Api) -> None:
    # A float bound to a numeric was its binary expansion: 0.3 held 0.2999999999999999888...
    cat = await measured_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    set_ = (await api.data(SET, set_vars(account_id, "hours_saved", 0.3), auth=key))[
        "outcomeTargetSet"
    ]
    assert set_["target"] == 0.3
    stored = await conn.fetchval("select target::text from outcome_targets")
    assert stored == "0.3"


async def test_a_target_of_an_outcome_a_count_measures_is_a_whole_number(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await measured_catalog(conn)
    await conn.execute("insert into metrics values ('tickets', 'T', 'tickets', 'count', 'never')")
    await conn.execute(
        "insert into outcomes values ('deflected', 'Deflected', 'tickets', 'increase', '', "
        "'tickets')"
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    refused = await api.data(SET, set_vars(account_id, "deflected", 2.5), auth=key)
    assert (refused["outcomeTargetSet"]["field"], refused["outcomeTargetSet"]["code"]) == (
        "target",
        "INVALID_INPUT",
    )
    assert await conn.fetchval("select count(*) from outcome_targets") == 0
    # A sum, a latest reading and an outcome no metric measures keep their fractions.
    for outcome in ("deflected", "hours_saved", "insight", "nps"):
        target = 3 if outcome == "deflected" else 2.5
        set_ = await api.data(SET, set_vars(account_id, outcome, target), auth=key)
        assert set_["outcomeTargetSet"]["__typename"] == "OutcomeTargetProgress", outcome
