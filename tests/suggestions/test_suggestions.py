"""Upgrade suggestions end to end: evidence written through the API marks the account, the
scheduler's job recomputes it, and customers, partners and internal tools see, accept and
dismiss the result."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.suggestions import service
from tests.conftest import Api, api_key, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import RECORD, event
from tests.fixtures.subscriptions_api import change

SUGGESTION = """query View($id: ID!) { account(id: $id) { ... on Account {
  tier { key }
  suggestion { id status confidence tier { key } fromTier { key }
    reasons { signal subject observed limit since until }
    gains { benefit { key } outcome { key } expectedImpact impactUnit }
    monthlyPriceDelta { amountCents currency } annualPriceDelta { amountCents }
    dismissedUntil version }
} } }"""
CHECK = """query Check($id: ID!, $feature: String) {
  entitlementCheck(accountId: $id, feature: $feature) { __typename } }"""
ACCEPT = """mutation Accept($id: ID!, $key: String!) {
  suggestionAccept(id: $id, idempotencyKey: $key) {
    __typename
    ... on SuggestionAccepted { suggestion { status } auditEntryId amountDue { amountCents }
                                replayed }
    ... on Error { code message }
  } }"""
DISMISS = """mutation Dismiss($id: ID!, $key: String!, $days: Int! = 30) {
  suggestionDismiss(id: $id, reason: "not this quarter", idempotencyKey: $key, days: $days) {
    __typename
    ... on SuggestionDismissed { suggestion { status dismissedUntil } replayed }
    ... on Error { code message }
  } }"""
SEAT = """mutation Seat($id: ID!, $u: String!) {
  seatAssign(accountId: $id, user: $u, idempotencyKey: $u) { __typename } }"""
LIST = """query List($first: Int!, $after: String) { suggestions(first: $first, after: $after) {
  __typename
  ... on SuggestionConnection { edges { cursor rankedConfidence node { accountId confidence } }
                                pageInfo { hasNextPage endCursor } }
  ... on Error { code }
} }"""


@pytest.fixture
async def setup(conn: asyncpg.Connection) -> dict[str, Any]:
    catalog = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = await factories.account(conn, catalog["versions"]["basic"], partner_id=partner)
    admin = await api_key(conn)
    return {"catalog": catalog, "account": account, "partner": partner, "admin": admin}


async def deny(api: Api, variables: dict[str, str], auth: str) -> None:
    """A check denied through the API, its denial written as the app's flush would."""
    await api.data(CHECK, variables, auth=auth)
    await api.flush_denials()


async def refresh(pool: asyncpg.Pool, clock: FixedClock) -> int:
    return await service.refresh_marked(pool, catalog_loader(pool), clock.now())


async def current(api: Api, account: UUID, auth: str) -> Any:
    data = await api.data(SUGGESTION, {"id": str(account)}, auth=auth)
    return data["account"]["suggestion"]


async def created_events(conn: asyncpg.Connection) -> list[Any]:
    return [
        r["payload"]
        for r in await conn.fetch(
            "select payload from events where type = 'suggestion.created' order by id"
        )
    ]


async def test_a_projected_overrun_opens_a_suggestion_with_its_evidence(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account, admin = setup["account"], setup["admin"]
    # 40 of a hard 100 in the period's first 10 of 30 days: 100 is reached on day 25.
    await api.data(RECORD, {"events": [event(account, "e1", 40)]}, auth=admin)
    assert await current(api, account, admin) is None  # recomputed by the job, not on read

    assert await refresh(pool, clock) == 1

    found = await current(api, account, frontend_token(account))
    assert (found["status"], found["tier"]["key"], found["fromTier"]["key"]) == (
        "OPEN", "pro", "basic",
    )  # fmt: skip
    (reason,) = found["reasons"]
    assert (reason["signal"], reason["subject"], reason["observed"], reason["limit"]) == (
        "PROJECTED_OVERRUN", "m0", 120.0, 100.0,
    )  # fmt: skip
    assert [g["benefit"]["key"] for g in found["gains"]] == ["b1", "b2"]
    assert found["gains"][0]["outcome"]["key"] == "hours_saved"
    assert found["monthlyPriceDelta"] == {"amountCents": 4000, "currency": "USD"}
    assert found["annualPriceDelta"] == {"amountCents": 40000}
    assert [e["id"] for e in await created_events(conn)] == [found["id"]]
    assert await refresh(pool, clock) == 0  # nothing marked, nothing new


async def test_denied_checks_and_full_seats_open_one_suggestion_that_keeps_its_id(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account, admin = setup["account"], setup["admin"]
    for _ in range(2):
        await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    first = await current(api, account, admin)
    assert [(r["signal"], r["subject"], r["observed"]) for r in first["reasons"]] == [
        ("DENIED_FEATURE", "b1", 2.0)
    ]

    walk = (await api.data(LIST, {"first": 1}, auth=admin))["suggestions"]
    assert [e["rankedConfidence"] for e in walk["edges"]] == [first["confidence"]]

    await conn.execute("update subscriptions set seats = 2")
    for user in ("ann", "bob"):
        await api.data(SEAT, {"id": str(account), "u": user}, auth=admin)
    await refresh(pool, clock)

    second = await current(api, account, admin)
    assert second["id"] == first["id"] and second["version"] == first["version"] + 1
    assert {r["signal"] for r in second["reasons"]} == {"DENIED_FEATURE", "SEAT_PRESSURE"}
    assert second["confidence"] > first["confidence"]
    assert len(await created_events(conn)) == 1
    # The job ranks it by its new confidence from its round on; the walk begun before
    # does not give it again, and a new one gives it ranked so.
    after = {"first": 1, "after": walk["pageInfo"]["endCursor"]}
    assert (await api.data(LIST, after, auth=admin))["suggestions"]["edges"] == []
    again = (await api.data(LIST, {"first": 1}, auth=admin))["suggestions"]["edges"]
    assert [(e["rankedConfidence"], e["node"]["confidence"]) for e in again] == [
        (second["confidence"], second["confidence"])
    ]


async def test_a_dismissed_suggestion_stays_dismissed_until_the_evidence_grows(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account, admin = setup["account"], setup["admin"]
    await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    suggestion = await current(api, account, admin)
    token = frontend_token(account)  # the customer dismisses it in their console

    dismissed = await api.data(DISMISS, {"id": suggestion["id"], "key": "d1"}, auth=token)
    assert dismissed["suggestionDismiss"]["suggestion"]["status"] == "DISMISSED"

    # The same evidence, and a little more of it, does not reopen it.
    await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    assert (await current(api, account, admin))["status"] == "DISMISSED"
    assert len(await created_events(conn)) == 1

    # A new kind of evidence does.
    await deny(api, {"id": str(account), "feature": "b2"}, admin)
    await refresh(pool, clock)
    reopened = await current(api, account, admin)
    assert reopened["status"] == "OPEN" and reopened["id"] != suggestion["id"]
    assert {r["subject"] for r in reopened["reasons"]} == {"b1", "b2"}
    assert len(await created_events(conn)) == 2
    statuses = await conn.fetch("select status, closed_at is null as current from suggestions")
    assert sorted((r["status"], r["current"]) for r in statuses) == [
        ("dismissed", False),
        ("open", True),
    ]


async def test_a_dismissal_ends_after_its_days(
    api: Api, setup: dict[str, Any], pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account, admin = setup["account"], setup["admin"]
    await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    first = await current(api, account, admin)
    await api.data(DISMISS, {"id": first["id"], "key": "d1", "days": 7}, auth=admin)

    clock.advance(timedelta(days=6))
    await refresh(pool, clock)  # recomputed as stale; the dismissal still holds it back
    assert (await current(api, account, admin))["status"] == "DISMISSED"

    clock.advance(timedelta(days=2))  # past the seven days, and a day past its last recompute
    await refresh(pool, clock)
    again = await current(api, account, admin)
    assert again["status"] == "OPEN" and again["id"] != first["id"]


async def test_accepting_upgrades_through_the_audited_path_once(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account, admin = setup["account"], setup["admin"]
    await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    suggestion = await current(api, account, admin)
    token = frontend_token(account)

    results = await asyncio.gather(
        *(api.data(ACCEPT, {"id": suggestion["id"], "key": f"k{i}"}, auth=token) for i in range(5))
    )

    answers = [r["suggestionAccept"] for r in results]
    accepted = [a for a in answers if a["__typename"] == "SuggestionAccepted"]
    assert len(accepted) == 1, answers
    assert {a["code"] for a in answers if a not in accepted} <= {"INVALID_INPUT"}
    # 20 of 30 days left of a 4,000 cent difference.
    assert accepted[0]["amountDue"]["amountCents"] == 2667
    tier = await conn.fetchval(
        "select v.tier_key from subscriptions s join tier_versions v on v.id = s.tier_version_id"
    )
    assert tier == "pro"
    entry = await conn.fetchrow(
        "select actor, action from audit_log where id = $1", int(accepted[0]["auditEntryId"])
    )
    assert (entry["actor"], entry["action"]) == ("user-1", "subscription.upgraded")
    types = [r["type"] for r in await conn.fetch("select type from events order by id")]
    assert types.count("subscription.changed") == 1 and types.count("suggestion.accepted") == 1

    key = next(i for i, a in enumerate(answers) if a in accepted)
    replay = await api.data(ACCEPT, {"id": suggestion["id"], "key": f"k{key}"}, auth=token)
    assert replay["suggestionAccept"]["replayed"] is True
    assert await conn.fetchval("select count(*) from audit_log") == 1

    await refresh(pool, clock)  # the upgrade marked the account: pro answers the denial
    assert await current(api, account, admin) is None


async def test_users_of_two_accounts_never_share_an_idempotency_key(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    # Both tokens name the subject "user-1": keys were scoped by subject alone, so the
    # second account's dismissal was refused as the first's key reused.
    other = await factories.account(conn, setup["catalog"]["versions"]["basic"])
    accounts = [setup["account"], other]
    for account in accounts:
        await deny(api, {"id": str(account), "feature": "b1"}, setup["admin"])
    await refresh(pool, clock)

    for account in accounts:
        suggestion = await current(api, account, setup["admin"])
        result = await api.data(
            DISMISS, {"id": suggestion["id"], "key": "same"}, auth=frontend_token(account)
        )
        answer = result["suggestionDismiss"]
        assert answer["__typename"] == "SuggestionDismissed", answer
        assert answer["replayed"] is False


async def test_partners_list_their_accounts_suggestions_by_confidence(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    partner, admin = setup["partner"], setup["admin"]
    basic = setup["catalog"]["versions"]["basic"]
    mine = [setup["account"], await factories.account(conn, basic, partner_id=partner)]
    other = await factories.account(conn, basic, partner_id=await factories.partner(conn))
    await deny(api, {"id": str(mine[0]), "feature": "b1"}, admin)
    for account in (mine[1], other):
        for feature in ("b1", "b2"):
            await deny(api, {"id": str(account), "feature": feature}, admin)
    await refresh(pool, clock)
    key = await api_key(conn, Role.PARTNER, partner)

    page = (await api.data(LIST, {"first": 1}, auth=key))["suggestions"]
    rest = await api.data(LIST, {"first": 5, "after": page["pageInfo"]["endCursor"]}, auth=key)

    nodes = [e["node"] for e in page["edges"] + rest["suggestions"]["edges"]]
    assert [n["accountId"] for n in nodes] == [str(mine[1]), str(mine[0])]
    assert nodes[0]["confidence"] > nodes[1]["confidence"]
    assert page["pageInfo"]["hasNextPage"] and not rest["suggestions"]["pageInfo"]["hasNextPage"]
    everyone = (await api.data(LIST, {"first": 10}, auth=admin))["suggestions"]["edges"]
    assert len(everyone) == 3
    token = frontend_token(mine[0])
    assert (await api.data(LIST, {"first": 1}, auth=token))["suggestions"]["code"] == "FORBIDDEN"
    hidden = await current(api, other, admin)
    refused = await api.data(ACCEPT, {"id": hidden["id"], "key": "x"}, auth=key)
    assert refused["suggestionAccept"]["code"] == "NOT_FOUND"


async def test_concurrent_recomputes_open_one_suggestion(
    api: Api, setup: dict[str, Any], conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    account, admin = setup["account"], setup["admin"]
    await deny(api, {"id": str(account), "feature": "b1"}, admin)
    loader = catalog_loader(pool)
    snapshot = await loader()

    async def recompute() -> None:
        async with pool.acquire() as c, c.transaction():
            await service.recompute(c, [account], snapshot, clock.now())

    await asyncio.gather(*(recompute() for _ in range(6)))

    assert await conn.fetchval("select count(*) from suggestions") == 1
    assert len(await created_events(conn)) == 1


async def test_a_suggestion_made_after_a_renewal_not_yet_written_is_accepted(
    api: Api, conn: asyncpg.Connection, pool: asyncpg.Pool, clock: FixedClock
) -> None:
    """The job makes a suggestion from the subscription as it stands (a downgrade to basic
    at the period's end has happened, written or not), so accepting it checks the tier
    against the subscription as it stands too: against the stored row, still on pro
    until the scheduler writes the renewal, the suggestion from basic was refused as
    stale (INVALID_INPUT), though the account had been on basic since."""
    catalog = await factories.catalog(conn)
    account = await factories.account(conn, catalog["versions"]["pro"])
    admin = await api_key(conn)
    downgrade = await change(api, admin, account, "basic", 1, "down")
    assert downgrade["subscription"]["scheduledTier"] == {"key": "basic"}, downgrade
    clock.at = NOW + timedelta(days=21)  # past the factory's period end, nothing written
    for _ in range(2):
        await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    suggestion = await current(api, account, admin)
    assert (suggestion["fromTier"]["key"], suggestion["tier"]["key"]) == ("basic", "pro")

    accepted = await api.data(ACCEPT, {"id": suggestion["id"], "key": "up"}, auth=admin)

    assert accepted["suggestionAccept"]["__typename"] == "SuggestionAccepted", accepted
    actions = await conn.fetch("select action from audit_log order by id")
    assert [a["action"] for a in actions] == [
        "subscription.downgrade_scheduled", "subscription.renewed", "subscription.upgraded",
    ]  # fmt: skip
