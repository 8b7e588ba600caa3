"""Bulk migration between versions of a tier end to end: the dry run, the real run with
its audit entries and events, replays, guards, rollback of one account, and the cost in
statements."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.subscriptions import version_migration
from benefitgate.suggestions import marks
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.catalog_api import basic_v2, draft, publish
from tests.fixtures.statements import StatementLog

MIGRATE = """
mutation Migrate($from: ID!, $to: ID!, $dry: Boolean!, $key: String!, $count: Int) {
  subscriptionsMigrateVersion(fromVersionId: $from, toVersionId: $to, dryRun: $dry,
                              idempotencyKey: $key, expectedCount: $count, reason: "v2") {
    __typename
    ... on VersionMigration {
      dryRun count replayed
      diff { fromVersion { version } toVersion { version }
             limitsChanged { metric { key } before { included } after { included } } }
      subscriptions { subscriptionId accountId accountName term priceBefore { amountCents }
                      priceAfter { amountCents currency } version auditEntryId } }
    ... on VersionConflictError { expectedVersion currentVersion }
    ... on InvalidInputError { field }
    ... on Error { code message }
  }
}
"""
OTHERS = """select id, tier_version_id, version from subscriptions
            where not (account_id = any($1)) order by id"""
VIEW = """query View($id: ID!) { account(id: $id) { ... on Account {
  subscription { tier { version } version } usage { metric { key } limit } } } }"""


@dataclass(frozen=True)
class Setup:
    key: str
    v1: str
    v2: str
    pro: str
    moving: list[UUID]  # the accounts on basic v1 whose subscriptions are live


async def setup(conn: asyncpg.Connection, api: Api, monthly: int = 3) -> Setup:
    """`monthly` monthly accounts and one annual on basic v1, one canceled on basic v1, one
    on pro; basic v2 published now."""
    cat = await factories.catalog(conn)
    basic = cat["versions"]["basic"]
    moving = [await factories.account(conn, basic) for _ in range(monthly + 1)]
    for n, account_id in enumerate(moving):
        await conn.execute("update accounts set name = $2 where id = $1", account_id, f"A{n}")
    await conn.execute("update subscriptions set term = 'annual' where account_id = $1", moving[0])
    canceled = await factories.account(conn, basic)
    await conn.execute(
        "update subscriptions set status = 'canceled' where account_id = $1", canceled
    )
    await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    v2 = (await basic_v2(api, key))["tierVersion"]["id"]
    await publish(api, key, v2, None, idem="publish-v2")
    return Setup(key, str(basic), v2, str(cat["versions"]["pro"]), moving)


async def migrate(
    api: Api, s: Setup, *, dry: bool, idem: str = "m1", auth: str | None = None, **kw: Any
) -> Any:
    variables = {"from": s.v1, "to": s.v2, "dry": dry, "key": idem, **kw}
    result = await api.data(MIGRATE, variables, auth=auth or s.key)
    return result["subscriptionsMigrateVersion"]


async def dump(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Every row of every table, as text: what `nothing changed` means."""
    tables = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
    return {
        t["tablename"]: sorted(
            str(tuple(r))
            for r in await conn.fetch(f'select * from "{t["tablename"]}"')  # noqa: S608
        )
        for t in tables
    }


async def subscription_ids(conn: asyncpg.Connection, accounts: list[UUID]) -> list[str]:
    rows = await conn.fetch(
        "select id::text from subscriptions where account_id = any($1::uuid[]) order by id",
        accounts,
    )
    return [r["id"] for r in rows]


async def test_a_dry_run_lists_exactly_the_affected_subscriptions_and_changes_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await setup(conn, api)
    before = await dump(conn)

    preview = await migrate(api, s, dry=True)

    assert await dump(conn) == before
    assert (preview["dryRun"], preview["count"], preview["replayed"]) == (True, 4, False)
    rows = preview["subscriptions"]
    assert [r["subscriptionId"] for r in rows] == await subscription_ids(conn, s.moving)
    by_account = {UUID(r["accountId"]): r for r in rows}
    assert set(by_account) == set(s.moving)
    annual = by_account[s.moving[0]]
    assert (annual["accountName"], annual["term"]) == ("A0", "ANNUAL")
    assert (annual["priceBefore"], annual["priceAfter"]) == (
        {"amountCents": 10000},
        {"amountCents": 15000, "currency": "USD"},
    )
    monthly = by_account[s.moving[1]]
    assert (monthly["term"], monthly["priceBefore"], monthly["priceAfter"]["amountCents"]) == (
        "MONTHLY",
        {"amountCents": 1000},
        1500,
    )
    assert {(r["version"], r["auditEntryId"]) for r in rows} == {(1, None)}
    assert preview["diff"]["limitsChanged"] == [
        {"metric": {"key": "m0"}, "before": {"included": 100.0}, "after": {"included": 200.0}}
    ]
    assert preview["diff"]["fromVersion"] == {"version": 1}


async def test_the_migration_moves_exactly_those_subscriptions_with_an_entry_and_event_each(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await setup(conn, api)
    others = await conn.fetch(OTHERS, s.moving)
    audit_before = await conn.fetchval("select max(id) from audit_log")
    events_before = await conn.fetchval("select max(id) from events")
    await marks.follow_events(conn, factories.NOW)  # the setup's own evidence
    await conn.execute("delete from suggestion_marks")

    moved = await migrate(api, s, dry=False, count=4)

    assert (moved["dryRun"], moved["count"]) == (False, 4)
    assert [r["subscriptionId"] for r in moved["subscriptions"]] == await subscription_ids(
        conn, s.moving
    )
    assert {r["version"] for r in moved["subscriptions"]} == {2}
    rows = await conn.fetch(
        "select account_id, tier_version_id, version from subscriptions where account_id = any($1)",
        s.moving,
    )
    assert {(r["tier_version_id"], r["version"]) for r in rows} == {(int(s.v2), 2)}
    assert await conn.fetch(OTHERS, s.moving) == others
    entries = await conn.fetch("select * from audit_log where id > $1 order by id", audit_before)
    assert sorted(str(e["id"]) for e in entries) == sorted(
        r["auditEntryId"] for r in moved["subscriptions"]
    )
    assert {e["account_id"] for e in entries} == set(s.moving)
    for e in entries:
        assert (e["action"], e["target_kind"], e["reason"]) == (
            "subscription.version_migrated",
            "subscription",
            "v2",
        )
        assert (e["before"]["tierVersionId"], e["after"]["tierVersionId"]) == (int(s.v1), int(s.v2))
        assert (e["before"]["version"], e["after"]["version"]) == (1, 2)
        assert e["before"].keys() == e["after"].keys()
        assert e["target_id"] == e["before"]["id"]
    events = await conn.fetch("select * from events where id > $1", events_before)
    assert sorted(str(e["account_id"]) for e in events) == sorted(str(a) for a in s.moving)
    assert {e["type"] for e in events} == {"subscription.changed"}
    assert {e["payload"]["auditEntryId"] for e in events} == {e["id"] for e in entries}
    assert events[0]["payload"]["change"] == {
        "fromTierVersionId": int(s.v1),
        "toTierVersionId": int(s.v2),
    }
    # Their suggestions are recomputed against the new version, as after a single change:
    # the suggestion job marks them from the migration's events.
    await marks.follow_events(conn, factories.NOW)
    marked = await conn.fetch("select account_id from suggestion_marks")
    assert sorted(r["account_id"] for r in marked) == sorted(s.moving)
    view = await api.data(VIEW, {"id": str(s.moving[1])}, auth=frontend_token(s.moving[1]))
    assert view["account"]["subscription"] == {"tier": {"version": 2}, "version": 2}
    assert {u["metric"]["key"]: u["limit"] for u in view["account"]["usage"]}["m0"] == 200

    written = await dump(conn)
    replay = await migrate(api, s, dry=False, count=4)
    assert replay["replayed"] is True
    assert {**replay, "replayed": False} == moved
    assert await dump(conn) == written
    reused = await migrate(api, s, dry=False, count=3)
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    empty = await migrate(api, s, dry=True, idem="after")
    assert (empty["count"], empty["subscriptions"]) == (0, [])


async def test_a_wrong_expected_count_is_refused_and_writes_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await setup(conn, api)
    before = await dump(conn)

    refused = await migrate(api, s, dry=False, count=3)

    assert (refused["code"], refused["expectedVersion"], refused["currentVersion"]) == (
        "VERSION_CONFLICT",
        3,
        4,
    )
    assert "4 subscriptions are on this version, not 3" in refused["message"]
    assert await dump(conn) == before


async def test_of_two_concurrent_migrations_of_one_set_one_moves_it(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await setup(conn, api)

    results = await asyncio.gather(
        migrate(api, s, dry=False, count=4, idem="a"), migrate(api, s, dry=False, count=4, idem="b")
    )

    lost, won = sorted(results, key=lambda r: r["__typename"])
    assert (won["__typename"], won["count"]) == ("VersionMigration", 4)
    assert (lost["code"], lost["currentVersion"]) == ("VERSION_CONFLICT", 0)
    assert (
        await conn.fetchval(
            "select count(*) from audit_log where action = 'subscription.version_migrated'"
        )
        == 4
    )


async def test_rolling_back_one_migrated_subscription_restores_its_old_version(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await setup(conn, api)
    moved = await migrate(api, s, dry=False)
    row = next(r for r in moved["subscriptions"] if r["accountId"] == str(s.moving[2]))

    undone = await rollback(api, s.key, row["auditEntryId"], "undo-one")

    assert undone["__typename"] == "RolledBack"
    assert undone["entry"]["after"]["tierVersionId"] == int(s.v1)
    pinned = await conn.fetch(
        "select account_id, tier_version_id, version from subscriptions where account_id = any($1)",
        s.moving,
    )
    assert {r["account_id"]: (r["tier_version_id"], r["version"]) for r in pinned} == {
        a: (int(s.v1), 3) if a == s.moving[2] else (int(s.v2), 2) for a in s.moving
    }
    event = await conn.fetchrow("select account_id, payload from events order by id desc limit 1")
    assert event["account_id"] == s.moving[2] and event["payload"]["action"] == "rollback"


async def test_only_another_published_version_of_the_same_tier_is_a_target(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await setup(conn, api)
    v3 = (await draft(api, s.key, {"tier": "basic", "basedOn": 2}, idem="v3"))["tierVersion"]["id"]
    before = await dump(conn)
    for dry in (True, False):
        cases = [
            ({"to": v3}, "toVersionId"),
            ({"to": s.pro}, "toVersionId"),
            ({"to": s.v1}, "toVersionId"),
        ]
        for change, field in cases:
            result = await migrate(api, s, dry=dry, idem=f"bad-{dry}", **change)
            assert (result["code"], result["field"]) == ("INVALID_INPUT", field), change
        for missing in ("999999", "nope"):
            result = await migrate(api, s, dry=dry, idem=f"missing-{dry}", to=missing)
            assert result["code"] == "NOT_FOUND"
    assert await dump(conn) == before


async def test_more_subscriptions_than_one_call_moves_are_refused(
    conn: asyncpg.Connection, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await setup(conn, api)
    monkeypatch.setattr(version_migration, "MAX_BATCH", 3)
    before = await dump(conn)

    for dry in (True, False):
        refused = await migrate(api, s, dry=dry, idem=f"big-{dry}")
        assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "fromVersionId")
        assert "more than 3" in refused["message"]
    assert await dump(conn) == before


async def test_migrations_are_for_internal_tools_only(conn: asyncpg.Connection, api: Api) -> None:
    s = await setup(conn, api)
    partner = await api_key(conn, Role.PARTNER, await factories.partner(conn))
    before = await dump(conn)

    for auth in (frontend_token(s.moving[0]), partner):
        for dry in (True, False):
            assert (await migrate(api, s, dry=dry, auth=auth))["code"] == "FORBIDDEN"
    assert await dump(conn) == before


def _transaction(statements: list[str]) -> list[str]:
    """The statements of the change's own transaction; what the answer reads after it
    (a catalog snapshot, when a catalog event has just dropped it) is the cache's cost."""
    start = statements.index("BEGIN;")
    return statements[start : statements.index("COMMIT;", start) + 1]


async def test_a_migration_costs_the_same_statements_for_few_or_many_subscriptions(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    async with make_api() as api:
        s = await setup(conn, api, monthly=1)
        for _ in range(20):
            await factories.account(conn, int(s.pro))
        pro_v2 = await draft(api, s.key, {"tier": "pro", "basedOn": 1}, idem="pro")
        await publish(api, s.key, pro_v2["tierVersion"]["id"], None, idem="publish-pro")
    pro = Setup(s.key, s.pro, pro_v2["tierVersion"]["id"], s.pro, [])
    back = Setup(s.key, s.v2, s.v1, s.pro, s.moving)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        # A first move warms the connection: asyncpg introspects each type once.
        await migrate(api, s, dry=False, idem="warm-up")
        counted = []
        for migration, expected in ((back, 2), (pro, 21)):
            log.statements.clear()
            moved = await migrate(api, migration, dry=False, idem=f"{expected}")
            assert moved["count"] == expected
            counted.append(len(_transaction(log.statements)))

    # BEGIN, the key's advisory lock and lookup, the two versions and their four parts,
    # the locked set, the move, the audit entries, the events, the key, COMMIT (the accounts'
    # suggestions follow from the events, after commit)
    assert counted == [14, 14]
