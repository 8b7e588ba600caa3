"""Milestones end to end: defined by admins, awarded once per occurrence whatever races,
rewarded, reported, caught up after downtime, and shown on the account."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.milestones import repository as milestones_repository
from benefitgate.milestones import scheduled
from benefitgate.milestones import service as milestones
from tests.conftest import Api, MakeApi, api_key, catalog_loader, eventually, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event

DEFINE = """
mutation Define($m: MilestoneInput!, $key: String!, $version: Int) {
  milestoneDefine(milestone: $m, idempotencyKey: $key, expectedVersion: $version) {
    __typename
    ... on MilestoneDefined { milestone { key kind version reward { benefit { key } days } } }
    ... on VersionConflictError { currentVersion }
    ... on InvalidInputError { field }
    ... on Error { code message }
  }
}
"""
STANDING = """query Standing($id: ID!) { account(id: $id) { ... on Account { milestones {
  achieved { milestone { key } occurrence value rewardGrantId }
  next { milestone { key } current target percent expectedAt }
} } } }"""
SEAT = """mutation Seat($id: ID!, $user: String!) {
  seatAssign(accountId: $id, user: $user, idempotencyKey: $user) { __typename } }"""


async def define(api: Api, key: str, milestone: dict[str, Any], **kw: Any) -> Any:
    variables = {"m": milestone, "key": kw.get("idem", milestone["key"]), **kw.get("vars", {})}
    return (await api.data(DEFINE, variables, auth=key))["milestoneDefine"]


async def awards(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """select a.milestone_key, a.occurrence, g.source, g.benefit_key, g.valid_until
           from achievements a left join grants g on g.id = a.grant_id
           order by a.achieved_at, a.milestone_key"""
    )
    return rows


async def reported(conn: asyncpg.Connection) -> int:
    events = await conn.fetchval("select count(*) from events where type = 'milestone.reached'")
    audited = await conn.fetchval(
        "select count(*) from audit_log where action = 'milestone.achieved'"
    )
    assert events == audited
    return int(events)


async def test_a_milestone_crossed_by_concurrent_ingests_is_awarded_once(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    rule = {"key": "busy", "name": "Busy", "kind": "USAGE_THRESHOLD", "metric": "m0",
            "threshold": 50, "repeatable": True,
            "reward": {"benefit": "b1", "days": 30}}  # fmt: skip
    assert (await define(api, key, rule))["milestone"]["version"] == 1
    batches = [
        [event(account_id, f"e{b}-{i}", 1) for i in range(10)] for b in range(8)
    ]  # 80 in all, crossing 50 somewhere in the middle of the race
    await asyncio.gather(*(api.data(RECORD, {"events": b}, auth=key) for b in batches))
    (award,) = await awards(conn)
    assert (award["milestone_key"], award["source"], award["benefit_key"]) == (
        "busy",
        "milestone",
        "b1",
    )
    assert award["occurrence"] == "2026-11-05T12:00:00+00:00"  # the billing period
    assert award["valid_until"] == NOW + timedelta(days=30)
    assert await reported(conn) == 1
    payload = await conn.fetchval("select payload from events where type = 'milestone.reached'")
    assert payload["milestone"] == "busy" and payload["reward"]["benefit"] == "b1"
    more = [event(account_id, "late", 5)]
    await api.data(RECORD, {"events": more}, auth=key)
    assert len(await awards(conn)) == 1  # once per period


async def test_a_milestone_many_accounts_reach_in_one_batch_is_awarded_to_each_linked_and_set_wise(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(12)]
    key = await api_key(conn)
    rewarded = {"key": "busy", "name": "Busy", "kind": "USAGE_THRESHOLD", "metric": "m0",
                "threshold": 5, "reward": {"benefit": "b1", "days": 30}}  # fmt: skip
    plain = {"key": "started", "name": "Started", "kind": "USAGE_THRESHOLD", "metric": "m0",
             "threshold": 1}  # fmt: skip
    for rule in (rewarded, plain):
        await define(api, key, rule)
    # One batch takes every account past both thresholds.
    batch = [event(a, f"e{i}", 6) for i, a in enumerate(accounts)]
    await api.data(RECORD, {"events": batch}, auth=key)

    achieved = await conn.fetch("select id, account_id, milestone_key, grant_id from achievements")
    assert sorted((r["account_id"], r["milestone_key"]) for r in achieved) == sorted(
        (a, m) for a in accounts for m in ("busy", "started")
    )
    grants = {
        r["id"]: r
        for r in await conn.fetch(
            "select id, account_id, benefit_key, source, valid_until from grants"
            " where source = 'milestone'"
        )
    }
    for a in achieved:  # each rewarded achievement has its own grant, on its account
        if a["milestone_key"] == "started":
            assert a["grant_id"] is None
            continue
        grant = grants.pop(a["grant_id"])
        assert (grant["account_id"], grant["benefit_key"]) == (a["account_id"], "b1")
        assert grant["valid_until"] == NOW + timedelta(days=30)
    assert not grants  # and no grant besides
    # Every milestone.reached and grant event names the audit entry of its own change.
    entries = {
        r["id"]: r
        for r in await conn.fetch("select id, action, target_id, account_id, after from audit_log")
    }
    reached = await conn.fetch(
        "select account_id, payload from events where type = 'milestone.reached'"
    )
    assert len(reached) == len(achieved)
    for e in reached:
        entry = entries[e["payload"]["auditEntryId"]]
        assert entry["action"] == "milestone.achieved"
        assert entry["target_id"] == e["payload"]["achievementId"]
        assert entry["account_id"] == e["account_id"]
        assert {"auditEntryId": entry["id"], **entry["after"]} == e["payload"]
        achievement = next(a for a in achieved if str(a["id"]) == entry["target_id"])
        reward = e["payload"]["reward"]
        grant_id = None if reward is None else UUID(reward["grantId"])
        assert grant_id == achievement["grant_id"]
    changed = await conn.fetch(
        "select account_id, payload from events where type = 'entitlement.changed'"
    )
    assert len(changed) == len(accounts)
    for e in changed:
        entry = entries[e["payload"]["auditEntryId"]]
        assert (entry["action"], entry["account_id"]) == ("grant.created", e["account_id"])
        assert (
            entry["target_id"]
            == e["payload"]["grant"]["id"]
            == str(
                next(
                    a["grant_id"]
                    for a in achieved
                    if a["account_id"] == e["account_id"] and a["grant_id"] is not None
                )
            )
        )

    # Milestone by milestone in key order, each one's grants before its achievements.
    written = await conn.fetch(
        "select type, payload from events"
        " where type in ('entitlement.changed', 'milestone.reached') order by id"
    )
    order = [
        (e["payload"]["milestone"] if e["type"] == "milestone.reached" else "busy", e["type"])
        for e in written
    ]
    assert order == sorted(order, key=lambda o: (o[0], o[1] == "milestone.reached"))

    # The statements an award takes do not grow with the accounts reaching a milestone.
    catalog = await catalog_loader(pool)()
    active = {
        m.key: m for m in await milestones_repository.active_milestones(conn, ("usage_threshold",))
    }

    async def statements_to_award(occurrence: str, n: int) -> int:
        ran: list[str] = []

        def log(query: asyncpg.connection.LoggedQuery) -> None:
            ran.append(query.query)

        conn.add_query_logger(log)
        try:
            async with conn.transaction():
                hits = [(a, k, occurrence, 6.0) for a in accounts[:n] for k in active]
                assert len(await milestones.award(conn, hits, active, catalog, NOW)) == len(hits)
        finally:
            conn.remove_query_logger(log)
        return len(ran)

    await statements_to_award("first", 1)  # asyncpg reads the statements' types once
    assert await statements_to_award("one", 1) == await statements_to_award("all", len(accounts))


async def test_an_anniversary_passed_during_downtime_is_awarded_once_after_restart(
    conn: asyncpg.Connection, api: Api, make_api: MakeApi, clock: FixedClock, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    await factories.account(conn, cat["versions"]["basic"])  # started 2026-08-05
    key = await api_key(conn)
    rule = {"key": "year_one", "name": "One year", "kind": "RENEWAL_ANNIVERSARY", "periods": 1,
            "reward": {"benefit": "b2", "days": 365}}  # fmt: skip
    await define(api, key, rule)
    clock.at = datetime.fromisoformat("2027-09-01T00:00:00+00:00")
    for _ in range(2):  # two restarts: the first catches up, the second finds nothing
        async with make_api(scheduler_seconds=3600):
            await eventually(conn, "select count(*) from achievements", 1)
            await asyncio.sleep(0.1)
    assert await scheduled.award_due(pool, catalog_loader(pool), clock.now()) == 0
    (award,) = await awards(conn)
    assert (award["milestone_key"], award["occurrence"], award["source"]) == (
        "year_one",
        "once",
        "anniversary",
    )
    assert await reported(conn) == 1


async def test_sustained_usage_counts_consecutive_closed_periods_without_gaps(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    steady = await factories.account(conn, cat["versions"]["pro"])
    gappy = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    rule = {"key": "steady", "name": "Steady", "kind": "SUSTAINED_USAGE", "metric": "m0",
            "threshold": 10, "periods": 3}  # fmt: skip
    await define(api, key, rule)
    starts = [datetime(2026, m, 5, 12, tzinfo=NOW.tzinfo) for m in (8, 9, 10, 11)]
    rows = [(steady, s, 20) for s in starts[:3]] + [(gappy, starts[0], 20), (gappy, starts[2], 20)]
    rows.append((gappy, starts[1], 5))  # below the threshold: breaks the run
    for account_id, start, value in rows:
        end = datetime(start.year, start.month + 1, 5, 12, tzinfo=NOW.tzinfo)
        await conn.execute(
            "insert into usage_counters values ($1, 'm0', $2, $3, $4, $2)",
            account_id, start, end, value,
        )  # fmt: skip
    # Only periods closing after the milestone was defined count; the third closed at
    # 2026-11-05, before NOW, so move the definition back first.
    await conn.execute("update milestones set created_at = $1", NOW - timedelta(days=30))
    load = catalog_loader(pool)
    assert await scheduled.award_due(pool, load, NOW) == 1
    assert await scheduled.award_due(pool, load, NOW) == 0
    assert [a["milestone_key"] for a in await awards(conn)] == ["steady"]
    token = frontend_token(gappy)
    gappy_next = (await api.data(STANDING, {"id": str(gappy)}, auth=token))["account"]
    assert gappy_next["milestones"]["next"] == [
        {"milestone": {"key": "steady"}, "current": 1.0, "target": 3.0, "percent": 33.3,
         "expectedAt": None}
    ]  # fmt: skip
    view = await api.data(STANDING, {"id": str(steady)}, auth=frontend_token(steady))
    standing = view["account"]["milestones"]
    assert standing["next"] == []
    assert standing["achieved"][0]["milestone"] == {"key": "steady"}


async def test_seat_and_outcome_milestones_are_awarded_by_the_change_that_reaches_them(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])  # 10 seats
    # The outcome gets a measuring metric before the app first loads the catalog.
    await conn.execute("update outcomes set metric_key = 'm1' where key = 'hours_saved'")
    key = await api_key(conn)
    await define(api, key, {"key": "crowd", "name": "Crowd", "kind": "SEAT_UTILISATION",
                            "threshold": 0.2})  # fmt: skip
    await define(api, key, {"key": "goal", "name": "Goal", "kind": "OUTCOME_TARGET",
                            "outcome": "hours_saved"})  # fmt: skip
    await conn.execute(
        "insert into outcome_targets values ($1, 'hours_saved', 30, $2, $3, '', 'test', $4)",
        account_id, date(2026, 11, 1), date(2026, 11, 30), NOW,
    )  # fmt: skip
    await api.data(SEAT, {"id": str(account_id), "user": "ada"}, auth=key)
    assert await awards(conn) == []
    standing = await api.data(STANDING, {"id": str(account_id)}, auth=key)
    progress = {p["milestone"]["key"]: p for p in standing["account"]["milestones"]["next"]}
    assert (progress["crowd"]["current"], progress["crowd"]["target"]) == (0.1, 0.2)
    assert (progress["goal"]["current"], progress["goal"]["percent"]) == (0.0, 0.0)
    await api.data(SEAT, {"id": str(account_id), "user": "bob"}, auth=key)
    await api.data(RECORD, {"events": [event(account_id, "h1", 30, metric="m1")]}, auth=key)
    assert [(a["milestone_key"], a["occurrence"]) for a in await awards(conn)] == [
        ("crowd", "once"),
        ("goal", "once"),
    ]
    assert await reported(conn) == 2


async def test_definitions_are_admin_only_validated_per_kind_and_versioned(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    admin, operator = await api_key(conn), await api_key(conn, Role.OPERATOR)
    rule = {"key": "busy", "name": "Busy", "kind": "USAGE_THRESHOLD", "metric": "m0",
            "threshold": 50}  # fmt: skip
    forbidden = await define(api, operator, rule)
    assert forbidden["code"] == "FORBIDDEN"
    for bad, field in [
        ({**rule, "metric": None}, "metric"),
        ({**rule, "metric": "nope"}, "metric"),
        ({**rule, "periods": 3}, "periods"),
        ({**rule, "threshold": -1}, "threshold"),
        ({**rule, "key": "Not A Key"}, "key"),
        ({**rule, "reward": {"benefit": "nope"}}, "reward.benefit"),
        # Granted when reached, where the grant refused it and the usage that reached it
        # was lost with it.
        ({**rule, "reward": {"benefit": "b1", "amount": 1e16}}, "reward.amount"),
        ({**rule, "kind": "SEAT_UTILISATION", "metric": None, "threshold": 2}, "threshold"),
    ]:
        result = await define(api, admin, bad, idem=f"bad-{field}-{len(str(bad))}")
        assert (result["code"], result["field"]) == ("INVALID_INPUT", field), bad
    goal = {"key": "goal", "name": "Goal", "kind": "OUTCOME_TARGET", "metric": "m0"}
    worded = await define(api, admin, goal)
    assert worded["message"] == "an outcome_target milestone takes no metric", worded
    assert await conn.fetchval("select count(*) from milestones") == 0
    assert (await define(api, admin, rule))["milestone"]["version"] == 1
    again = await define(api, admin, rule, idem="again")
    assert again["code"] == "VERSION_CONFLICT"
    raised = await define(api, admin, {**rule, "threshold": 60}, idem="v2", vars={"version": 1})
    assert raised["milestone"]["version"] == 2
    stale = await define(api, admin, {**rule, "threshold": 70}, idem="v3", vars={"version": 1})
    assert (stale["code"], stale["currentVersion"]) == ("VERSION_CONFLICT", 2)


async def test_of_concurrent_creates_of_one_milestone_exactly_one_succeeds(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    # Each create read no row, then its upsert waited for the first and updated it: all
    # twenty succeeded as "created", and all but the last definition were silently lost.
    await factories.catalog(conn)
    admin = await api_key(conn)
    rule = {"key": "busy", "name": "Busy", "kind": "USAGE_THRESHOLD", "metric": "m0"}
    async with make_api(pool_max=25) as api:
        results = await asyncio.gather(
            *(
                define(api, admin, {**rule, "threshold": 10 + n}, idem=f"create-{n}")
                for n in range(20)
            )
        )
    created = [r["milestone"] for r in results if r["__typename"] == "MilestoneDefined"]
    assert len(created) == 1 and created[0]["version"] == 1
    conflicts = [r for r in results if r["__typename"] == "VersionConflictError"]
    assert len(conflicts) == 19 and {r["currentVersion"] for r in conflicts} == {1}
    stored = await conn.fetchrow("select threshold, version from milestones where key = 'busy'")
    winner = next(n for n, r in enumerate(results) if r["__typename"] == "MilestoneDefined")
    assert (stored["threshold"], stored["version"]) == (10 + winner, 1)
    audited = await conn.fetchval("select count(*) from audit_log where action like 'milestone.%'")
    assert audited == 1


async def test_an_anniversary_before_the_milestone_existed_is_not_shown_as_next(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute("update subscriptions set started_at = '2025-01-01T00:00:00+00:00'")
    key = await api_key(conn)
    for years in (1, 3):  # the first passed on 2026-01-01, before this definition
        rule = {"key": f"year_{years}", "name": f"{years} years",
                "kind": "RENEWAL_ANNIVERSARY", "periods": years}  # fmt: skip
        await define(api, key, rule)
    standing = await api.data(STANDING, {"id": str(account_id)}, auth=key)
    shown = [
        (p["milestone"]["key"], p["expectedAt"]) for p in standing["account"]["milestones"]["next"]
    ]
    assert shown == [("year_3", "2028-01-01T00:00:00+00:00")]


async def test_a_count_metric_takes_whole_thresholds_and_rewards_match_their_benefit(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    await conn.execute(
        """insert into metrics (key, name, unit, aggregation, reset)
           values ('calls', 'Calls', 'calls', 'count', 'billing_period')"""
    )
    await conn.execute(
        """insert into benefits (key, name, kind, metric_key, introduced_on)
           values ('more_calls', 'More calls', 'limit', 'calls', '2025-01-01')"""
    )
    admin = await api_key(conn)
    calls = {"key": "calls", "name": "Calls", "kind": "USAGE_THRESHOLD", "metric": "calls",
             "threshold": 10}  # fmt: skip
    for bad, field in [
        ({**calls, "threshold": 2.5}, "threshold"),  # a count never stands at 2.5
        ({**calls, "kind": "SUSTAINED_USAGE", "threshold": 0.5, "periods": 2}, "threshold"),
        # A feature is granted without an amount: the reward's grant would carry a
        # meaningless one.
        ({**calls, "reward": {"benefit": "b1", "amount": 5}}, "reward.amount"),
        ({**calls, "reward": {"benefit": "more_calls", "amount": 2.5}}, "reward.amount"),
    ]:
        result = await define(api, admin, bad, idem=f"bad-{len(str(bad))}")
        assert (result["code"], result["field"]) == ("INVALID_INPUT", field), bad
    assert await conn.fetchval("select count(*) from milestones") == 0
    fractions = {"key": "half", "name": "Half", "kind": "USAGE_THRESHOLD", "metric": "m0",
                 "threshold": 2.5}  # fmt: skip
    assert (await define(api, admin, fractions))["__typename"] == "MilestoneDefined"
    whole = {**calls, "reward": {"benefit": "more_calls", "amount": 5}}
    assert (await define(api, admin, whole))["__typename"] == "MilestoneDefined"
