"""Tier versions end to end: drafts, publishing with an effective date, grandfathering,
optimistic concurrency, validation and the database's guard on published versions."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.catalog_api import CHANGED, basic_v2, draft, publish
from tests.fixtures.factories import NOW
from tests.fixtures.statements import StatementLog

DISCARD = f"""
mutation Discard($id: ID!, $key: String!) {{
  tierVersionDiscard(id: $id, idempotencyKey: $key) {{ {CHANGED} }}
}}
"""
VERSIONS = """
query Versions($tier: String!) { tierVersions(tier: $tier) {
  __typename
  ... on TierVersionList { versions { id version status } }
  ... on Error { code }
} }
"""
DIFF = "query($from: ID!, $to: ID!) { tierVersionDiff(from: $from, to: $to) { __typename } }"
LADDER = "{ tiers { key version monthlyPrice { amountCents } limits { metric { key } included } } }"
VIEW = """query View($id: ID!) { account(id: $id) { ... on Account {
  subscription { tier { version } version }
  tier { key version monthlyPrice { amountCents } }
  usage { metric { key } limit enforcement } } } }"""
NEW_TIER = {
    "tier": "gold",
    "name": "Gold",
    "rank": 5,
    "valueNarrative": "For the largest teams",
    "currency": "USD",
    "monthlyPriceCents": 20000,
    "annualPriceCents": 200000,
    "supportLevel": "premium",
    "supportFirstResponseHours": 2,
    "supportChannels": ["email", "phone"],
    "outcomes": [{"outcome": "hours_saved", "target": 40}],
    "limits": [{"metric": "m0", "enforcement": "UNLIMITED"}],
    "benefits": [{"benefit": "b0", "parameters": {"level": "max"}}],
}


async def statuses(api: Api, key: str, tier: str) -> list[tuple[int, str]]:
    found = (await api.data(VERSIONS, {"tier": tier}, auth=key))["tierVersions"]
    return [(v["version"], v["status"]) for v in found["versions"]]


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    tables = ("tiers", "tier_versions", "tier_limits", "audit_log", "events", "idempotency_keys")
    return {t: await conn.fetchval(f"select count(*) from {t}") for t in tables}  # noqa: S608


async def test_a_version_published_for_later_changes_the_ladder_then_and_grandfathers_subscriptions(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    drafted = await basic_v2(api, key)
    version = drafted["tierVersion"]
    assert (version["version"], version["status"], version["effectiveFrom"]) == (2, "DRAFT", None)
    assert version["tier"]["monthlyPrice"] == {"amountCents": 1500, "currency": "USD"}
    # Fields left out copy from version 1.
    assert version["tier"]["support"] == {
        "name": "standard",
        "firstResponseHours": 24,
        "channels": ["email"],
    }
    assert [b["benefit"]["key"] for b in version["tier"]["benefits"]] == ["b0"]
    assert await statuses(api, key, "basic") == [(1, "IN_FORCE"), (2, "DRAFT")]
    ladder_before = await api.data(LADDER, auth=key)
    assert [(t["key"], t["version"]) for t in ladder_before["tiers"]] == [("basic", 1), ("pro", 1)]

    effective = (NOW + timedelta(days=10)).isoformat()
    published = await publish(api, key, version["id"], effective)
    assert published["tierVersion"]["status"] == "SCHEDULED"
    assert published["tierVersion"]["effectiveFrom"] == effective
    assert published["tierVersion"]["publishedAt"] == NOW.isoformat()
    assert await api.data(LADDER, auth=key) == ladder_before
    assert await statuses(api, key, "basic") == [(1, "IN_FORCE"), (2, "SCHEDULED")]

    clock.advance(timedelta(days=11))
    ladder_after = (await api.data(LADDER, auth=key))["tiers"]
    assert (ladder_after[0]["version"], ladder_after[0]["monthlyPrice"]) == (
        2,
        {"amountCents": 1500},
    )
    assert await statuses(api, key, "basic") == [(1, "SUPERSEDED"), (2, "IN_FORCE")]
    token = frontend_token(account_id, ttl=timedelta(days=30))
    view = (await api.data(VIEW, {"id": str(account_id)}, auth=token))["account"]
    assert view["tier"] == {"key": "basic", "version": 1, "monthlyPrice": {"amountCents": 1000}}
    assert view["subscription"] == {"tier": {"version": 1}, "version": 1}
    assert {u["metric"]["key"]: u["limit"] for u in view["usage"]} == {"m0": 100, "m1": 100}

    entries = await conn.fetch(
        "select action, target_kind, before, after from audit_log order by id"
    )
    assert [(e["action"], e["target_kind"]) for e in entries] == [
        ("tier_version.drafted", "tier_version"),
        ("tier_version.published", "tier_version"),
    ]
    assert entries[1]["before"]["publishedAt"] is None
    assert entries[1]["after"]["effectiveFrom"] == effective
    events = await conn.fetch("select type, account_id, payload from events order by id")
    assert [e["type"] for e in events] == ["catalog.draft_created", "catalog.published"]
    assert events[1]["payload"]["effectiveFrom"] == effective
    assert events[0]["payload"] == {
        "action": "tier_version.drafted",
        "auditEntryId": int(drafted["auditEntryId"]),
        "tierVersionId": int(version["id"]),
    }


async def test_two_concurrent_publishes_of_one_draft_publish_it_once(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    version_id = (await basic_v2(api, key))["tierVersion"]["id"]

    results = await asyncio.gather(
        publish(api, key, version_id, None, idem="a"), publish(api, key, version_id, None, idem="b")
    )

    winner, loser = sorted(results, key=lambda r: r["__typename"])
    assert winner["__typename"] == "TierVersionChanged"
    assert winner["tierVersion"]["status"] == "IN_FORCE"
    assert (loser["code"], loser["expectedVersion"], loser["currentVersion"]) == (
        "VERSION_CONFLICT",
        1,
        2,
    )
    assert "published already" in loser["message"]
    actions = await conn.fetch("select action from audit_log where action like '%published'")
    assert len(actions) == 1
    assert await conn.fetchval("select count(*) from events where type = 'catalog.published'") == 1


async def test_a_stale_base_gets_a_version_conflict_and_a_tier_has_one_draft(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    twins = await asyncio.gather(
        draft(api, key, {"tier": "basic", "basedOn": 1, "monthlyPriceCents": 1}, idem="x"),
        draft(api, key, {"tier": "basic", "basedOn": 1, "monthlyPriceCents": 2}, idem="y"),
    )
    won, conflict = sorted(twins, key=lambda r: r["__typename"])
    assert won["tierVersion"]["version"] == 2
    assert (conflict["code"], conflict["currentVersion"]) == ("VERSION_CONFLICT", 2)

    on_draft = await draft(api, key, {"tier": "basic", "basedOn": 2}, idem="on-draft")
    assert (on_draft["code"], on_draft["field"]) == ("INVALID_INPUT", "basedOn")
    await publish(api, key, won["tierVersion"]["id"], None)
    stale = await draft(api, key, {"tier": "basic", "basedOn": 1}, idem="stale")
    assert (stale["code"], stale["expectedVersion"], stale["currentVersion"]) == (
        "VERSION_CONFLICT",
        1,
        2,
    )
    taken = await draft(api, key, {**NEW_TIER, "tier": "basic"}, idem="taken")
    assert (taken["code"], taken["currentVersion"]) == ("VERSION_CONFLICT", 2)
    assert "exists" in taken["message"]
    fresh = await draft(api, key, {"tier": "basic", "basedOn": 2}, idem="fresh")
    assert fresh["tierVersion"]["version"] == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"monthlyPriceCents": -1}, "monthlyPriceCents"),
        ({"annualPriceCents": -100}, "annualPriceCents"),
        ({"currency": "usd"}, "currency"),
        ({"supportFirstResponseHours": 0}, "supportFirstResponseHours"),
        ({"supportChannels": []}, "supportChannels"),
        ({"valueNarrative": " "}, "valueNarrative"),
        (
            {"limits": [{"metric": "nope", "enforcement": "HARD", "included": 1}]},
            "limits[0].metric",
        ),
        (
            {"limits": [{"metric": "m0", "enforcement": "UNLIMITED", "included": 5}]},
            "limits[0].included",
        ),
        ({"limits": [{"metric": "m0", "enforcement": "SOFT"}]}, "limits[0].included"),
        (
            {"limits": [{"metric": "m0", "enforcement": "HARD", "included": -1}]},
            "limits[0].included",
        ),
        (
            {"limits": [{"metric": "m0", "enforcement": "HARD", "included": 5e-324}]},
            "limits[0].included",
        ),
        (
            {
                "limits": [
                    {"metric": "m0", "enforcement": "HARD", "included": 1},
                    {"metric": "m0", "enforcement": "SOFT", "included": 2},
                ]
            },
            "limits[1]",
        ),
        ({"benefits": [{"benefit": "nope"}]}, "benefits[0].benefit"),
        ({"benefits": [{"benefit": "b1", "parameters": [1, 2]}]}, "benefits[0].parameters"),
        ({"outcomes": [{"outcome": "nope"}]}, "outcomes[0].outcome"),
        ({"exclusions": [{"benefit": "b2", "includedIn": "gold"}]}, "exclusions[0].includedIn"),
        ({"exclusions": [{"benefit": "b2", "includedIn": "basic"}]}, "exclusions[0].includedIn"),
        ({"exclusions": [{"benefit": "b0"}]}, "exclusions[0].benefit"),
        ({"name": "Renamed"}, "name"),
        ({"basedOn": 0}, "basedOn"),
    ],
)
async def test_an_invalid_edit_names_its_field_and_writes_nothing(
    conn: asyncpg.Connection, api: Api, change: dict[str, Any], field: str
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    before = await counts(conn)

    result = await draft(api, key, {"tier": "basic", "basedOn": 1, **change})

    assert (result["code"], result["field"]) == ("INVALID_INPUT", field), result
    assert await counts(conn) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tier": "Gold!"}, "tier"),
        ({"name": None}, "name"),
        ({"rank": 1}, "rank"),  # pro holds it
        ({"rank": -1}, "rank"),
        ({"valueNarrative": None}, "valueNarrative"),
        ({"supportChannels": None}, "supportChannels"),
    ],
)
async def test_an_invalid_new_tier_names_its_field_and_writes_nothing(
    conn: asyncpg.Connection, api: Api, change: dict[str, Any], field: str
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    before = await counts(conn)

    result = await draft(api, key, {**NEW_TIER, **change})

    assert (result["code"], result["field"]) == ("INVALID_INPUT", field), result
    assert await counts(conn) == before


async def test_a_new_tier_is_drafted_published_and_a_discarded_one_leaves_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    gold = await draft(api, key, NEW_TIER, idem="gold")
    naming_draft = {
        "tier": "basic",
        "basedOn": 1,
        "exclusions": [{"benefit": "b2", "includedIn": "gold"}],
    }
    unannounced = await draft(api, key, naming_draft, idem="naming-gold")
    assert (unannounced["code"], unannounced["field"]) == (
        "INVALID_INPUT",
        "exclusions[0].includedIn",
    )
    assert gold["tierVersion"]["tier"]["limits"] == [
        {"metric": {"key": "m0"}, "enforcement": "UNLIMITED", "included": None}
    ]
    assert gold["tierVersion"]["tier"]["benefits"] == [
        {"benefit": {"key": "b0"}, "parameters": {"level": "max"}}
    ]
    ladder = await api.data(LADDER, auth=key)
    assert "gold" not in [t["key"] for t in ladder["tiers"]]
    await publish(api, key, gold["tierVersion"]["id"], None)
    ladder = await api.data(LADDER, auth=key)
    assert [t["key"] for t in ladder["tiers"]] == ["basic", "pro", "gold"]

    trial = await draft(api, key, {**NEW_TIER, "tier": "trial", "rank": 9}, idem="trial")
    trial_id = trial["tierVersion"]["id"]
    discarded = (await api.data(DISCARD, {"id": trial_id, "key": "x"}, auth=key))[
        "tierVersionDiscard"
    ]
    assert discarded["tierVersion"]["status"] == "DISCARDED"
    assert await conn.fetchval("select count(*) from tiers where key = 'trial'") == 0
    missing = (await api.data(VERSIONS, {"tier": "trial"}, auth=key))["tierVersions"]
    assert missing["code"] == "NOT_FOUND"
    again = (await api.data(DISCARD, {"id": trial_id, "key": "y"}, auth=key))["tierVersionDiscard"]
    assert again["code"] == "NOT_FOUND"
    # The rank the discarded tier held is free again.
    assert (await draft(api, key, {**NEW_TIER, "tier": "plus", "rank": 9}, idem="plus"))[
        "tierVersion"
    ]["version"] == 1
    gold_id = gold["tierVersion"]["id"]
    kept = (await api.data(DISCARD, {"id": gold_id, "key": "z"}, auth=key))["tierVersionDiscard"]
    assert (kept["code"], kept["field"]) == ("INVALID_INPUT", "id")


async def test_a_draft_replays_on_its_key_even_after_it_was_discarded(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    first = await basic_v2(api, key)
    await api.data(DISCARD, {"id": first["tierVersion"]["id"], "key": "d"}, auth=key)

    replay = await basic_v2(api, key)
    reused = await draft(api, key, {"tier": "basic", "basedOn": 1}, idem="basic-v2-0")

    assert replay["replayed"] is True
    assert {**replay, "replayed": False} == first
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await conn.fetchval("select count(*) from tier_versions") == 2


async def test_publishing_refuses_a_past_date_or_one_before_the_newest_version(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    v2 = (await basic_v2(api, key))["tierVersion"]["id"]
    past = await publish(api, key, v2, (NOW - timedelta(minutes=1)).isoformat(), idem="past")
    assert (past["code"], past["field"]) == ("INVALID_INPUT", "effectiveFrom")
    later = (NOW + timedelta(days=30)).isoformat()
    assert (await publish(api, key, v2, later, idem="later"))["tierVersion"]["version"] == 2
    v3 = (await draft(api, key, {"tier": "basic", "basedOn": 2}, idem="v3"))["tierVersion"]["id"]
    early = await publish(api, key, v3, (NOW + timedelta(days=1)).isoformat(), idem="early")
    assert (early["code"], early["field"]) == ("INVALID_INPUT", "effectiveFrom")
    assert (await publish(api, key, "999999", None, idem="missing"))["code"] == "NOT_FOUND"
    assert (await publish(api, key, "x", None, idem="garbage"))["code"] == "NOT_FOUND"
    assert await conn.fetchval("select count(*) from tier_versions where published_at is null") == 1


async def test_the_database_refuses_to_change_a_published_version_or_its_parts(
    conn: asyncpg.Connection,
) -> None:
    cat = await factories.catalog(conn)
    basic = cat["versions"]["basic"]
    for statement in (
        "update tier_versions set monthly_price_cents = 1 where id = $1",
        "delete from tier_versions where id = $1",
        "update tier_limits set included = 1 where tier_version_id = $1",
        "delete from tier_benefits where tier_version_id = $1",
        "delete from tier_exclusions where tier_version_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="immutable"):
            await conn.execute(statement, basic)
    price = await conn.fetchval(
        "select monthly_price_cents from tier_versions where id = $1", basic
    )
    assert price == 1000  # the factory's price, untouched


async def test_versions_and_version_changes_are_for_internal_tools_only(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    admin = await api_key(conn)
    v2 = (await basic_v2(api, admin))["tierVersion"]["id"]
    partner = await api_key(conn, Role.PARTNER, await factories.partner(conn))
    for auth in (frontend_token(account_id), partner):
        assert (await draft(api, auth, {"tier": "basic", "basedOn": 2}))["code"] == "FORBIDDEN"
        assert (await publish(api, auth, v2, None))["code"] == "FORBIDDEN"
        discard = await api.data(DISCARD, {"id": v2, "key": "k"}, auth=auth)
        assert discard["tierVersionDiscard"]["code"] == "FORBIDDEN"
        listed = await api.data(VERSIONS, {"tier": "basic"}, auth=auth)
        assert listed["tierVersions"]["code"] == "FORBIDDEN"
    assert (
        await conn.fetchval("select published_at from tier_versions where id = $1", int(v2)) is None
    )


async def test_versions_and_diffs_are_read_from_the_cached_catalog_without_sql(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    async with make_api() as api:
        v2 = (await basic_v2(api, key))["tierVersion"]["id"]
    diff = {"from": str(cat["versions"]["basic"]), "to": v2}
    log = StatementLog()
    # A fresh process, so no catalog event of the draft is still on its way to drop the
    # snapshot between the first read and the counted ones.
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(VERSIONS, {"tier": "basic"}, auth=key)
        log.statements.clear()
        listed = await api.data(VERSIONS, {"tier": "basic"}, auth=key)
        await api.data(DIFF, diff, auth=key)

    assert len(listed["tierVersions"]["versions"]) == 2
    assert log.statements == []
