"""Account health on the account view and accounts at risk before renewal, end to end,
with accounts whose signals are crafted to known scores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.events import outbox
from benefitgate.health.ranking import decode_position, encode_position
from benefitgate.health.refresh import refresh_due
from tests.conftest import Api, MakeApi, api_key, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.statements import StatementLog
from tests.fixtures.subscriptions_api import change

HEALTH = """
query Health($id: ID!) { account(id: $id) { ... on Account {
  health { score scoredAt factors { key score weight detail } } } } }
"""
AT_RISK = """
query AtRisk($days: Int!, $first: Int! = 20, $after: String) {
  accountsAtRisk(renewingWithinDays: $days, first: $first, after: $after) {
    __typename
    ... on AccountRiskConnection {
      edges { cursor node { account { id name } renewsOn score scoredAt reasons { key score } } }
      pageInfo { hasNextPage endCursor } rankedAt }
    ... on InvalidInputError { field }
    ... on Error { code }
  }
}
"""
TODAY = NOW.date()


async def _usage(conn: asyncpg.Connection, account_id: UUID, before: float, last: float) -> None:
    """`before` spread over the 30 days before the last 30, `last` over the last 30."""
    rows = [(account_id, "m0", TODAY - timedelta(days=45), before)] if before else []
    rows += [(account_id, "m0", TODAY - timedelta(days=3), last)] if last else []
    await conn.executemany(
        "insert into usage_daily (account_id, metric_key, day, value) values ($1, $2, $3, $4)",
        rows,
    )


async def _seats(conn: asyncpg.Connection, account_id: UUID, held: int) -> None:
    await conn.executemany(
        "insert into seat_assignments values (gen_random_uuid(), $1, $2, $3)",
        [(account_id, f"user{n}", NOW - timedelta(days=90)) for n in range(held)],
    )


async def _population(conn: asyncpg.Connection) -> dict[str, UUID]:
    """healthy: growing usage, its benefit used, 9 of 10 seats (score 100). falling: usage
    halved, its benefit unused, 2 of 10 seats, 3 features denied, set to cancel (24).
    idle (a partner's): nothing at all (13). later: renews outside the window."""
    cat = await factories.catalog(conn)
    basic = cat["versions"]["basic"]
    reseller = await factories.partner(conn)
    ids = {
        "healthy": await factories.account(conn, basic),
        "falling": await factories.account(conn, basic),
        "idle": await factories.account(conn, basic, partner_id=reseller),
        "later": await factories.account(conn, basic),
    }
    await _usage(conn, ids["healthy"], 100, 150)
    await _usage(conn, ids["falling"], 100, 50)
    await conn.execute(
        "insert into benefit_uses values ($1, 'b0', 4, $2, $3)",
        ids["healthy"],
        NOW - timedelta(days=50),
        NOW - timedelta(days=2),
    )
    await _seats(conn, ids["healthy"], 9)
    await _seats(conn, ids["falling"], 2)
    await conn.executemany(
        "insert into entitlement_denials values ($1, $2, 'not_in_tier', 2, $3, $3)",
        [(ids["falling"], f"b{n}", NOW - timedelta(days=5)) for n in (1, 2, 9)],
    )
    await conn.execute(
        "update subscriptions set cancel_at_period_end = true where account_id = $1",
        ids["falling"],
    )
    await conn.execute(
        "update subscriptions set renewal_date = $2 where account_id = $1",
        ids["later"],
        TODAY + timedelta(days=100),
    )
    await conn.execute("update accounts set name = 'partnered' where id = $1", ids["idle"])
    return {**ids, "reseller": reseller}


async def test_a_frontend_reads_its_health_with_every_factor_that_applies(
    conn: asyncpg.Connection, api: Api
) -> None:
    ids = await _population(conn)
    falling = ids["falling"]
    data = await api.data(HEALTH, {"id": str(falling)}, auth=frontend_token(falling))
    health = data["account"]["health"]
    assert health["score"] == round((30 * 50 + 20 * 0 + 15 * 25 + 10 * 40 + 20 * 0) / 95)
    assert [(f["key"], f["score"], f["weight"]) for f in health["factors"]] == [
        ("BENEFIT_ADOPTION", 0, 20),
        ("CANCELLATION", 0, 20),
        ("USAGE_TREND", 50, 30),
        ("SEAT_USE", 25, 15),
        ("DENIALS", 40, 10),
    ]
    assert health["factors"][2]["detail"] == "usage fell over the last 30 days: m0"
    healthy = ids["healthy"]
    data = await api.data(HEALTH, {"id": str(healthy)}, auth=frontend_token(healthy))
    assert data["account"]["health"]["score"] == 100


async def test_the_account_view_shows_the_stored_score_and_when_it_was_computed(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    ids = await _population(conn)
    falling = ids["falling"]
    auth = frontend_token(falling)
    live = (await api.data(HEALTH, {"id": str(falling)}, auth=auth))["account"]["health"]
    assert live["scoredAt"] == NOW.isoformat()  # never stored: scored for the request
    await refresh_due(pool, catalog_loader(pool), NOW - timedelta(hours=1))
    # A change the job has not scored yet is not shown: the view says when it was scored.
    await conn.execute("update subscriptions set cancel_at_period_end = false")
    stored = (await api.data(HEALTH, {"id": str(falling)}, auth=auth))["account"]["health"]
    assert stored == {**live, "scoredAt": (NOW - timedelta(hours=1)).isoformat()}


async def test_accounts_at_risk_renewing_soon_come_most_at_risk_first_with_reasons(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    ids = await _population(conn)
    operator = await api_key(conn, Role.OPERATOR)
    before = (await api.data(AT_RISK, {"days": 30}, auth=operator))["accountsAtRisk"]
    assert (before["edges"], before["rankedAt"]) == ([], None)  # the job never ran
    assert await refresh_due(pool, catalog_loader(pool), NOW) == 4

    async def at_risk(auth: str, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = (await api.data(AT_RISK, {"days": 30, **kw}, auth=auth))[
            "accountsAtRisk"
        ]
        return result

    found = await at_risk(operator)
    nodes = [e["node"] for e in found["edges"]]
    assert [(UUID(n["account"]["id"]), n["score"]) for n in nodes] == [
        (ids["idle"], 13),
        (ids["falling"], 24),
        (ids["healthy"], 100),
    ]
    assert [r["key"] for r in nodes[1]["reasons"]] == [
        "BENEFIT_ADOPTION",
        "CANCELLATION",
        "USAGE_TREND",
        "SEAT_USE",
        "DENIALS",
    ]
    assert nodes[2]["reasons"] == []
    assert nodes[0]["renewsOn"] == str(TODAY + timedelta(days=20))
    assert found["rankedAt"] == NOW.isoformat() and nodes[0]["scoredAt"] == NOW.isoformat()

    walked, after = [], None
    while True:
        page = await at_risk(operator, first=1, after=after)
        walked += [e["node"]["account"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert walked == [n["account"]["id"] for n in nodes]

    partner = await api_key(conn, Role.PARTNER, ids["reseller"])
    mine = await at_risk(partner)
    assert [e["node"]["account"]["name"] for e in mine["edges"]] == ["partnered"]
    wider = await at_risk(operator, days=100)
    assert len(wider["edges"]) == 4

    assert (await at_risk(frontend_token(ids["healthy"])))["code"] == "FORBIDDEN"
    assert (await at_risk(operator, days=-1))["field"] == "renewingWithinDays"
    assert (await at_risk(operator, days=367))["field"] == "renewingWithinDays"
    assert (await at_risk(operator, after="nonsense"))["field"] == "after"
    assert (await at_risk(operator, first=0))["field"] == "first"


PAGE = (
    "{ accounts(first: 50) { ... on AccountConnection { edges { node { health { score } } } } } }"
)


@pytest.mark.parametrize("extra", [0, 5])
@pytest.mark.parametrize("scored", [True, False])
async def test_the_health_of_a_page_of_accounts_costs_the_same_statements_whatever_its_size(
    conn: asyncpg.Connection, pool: asyncpg.Pool, make_api: MakeApi, extra: int, scored: bool
) -> None:
    ids = await _population(conn)
    for n in range(extra):
        account_id = await factories.account(conn, await conn.fetchval(
            "select tier_version_id from subscriptions limit 1"))  # fmt: skip
        await _usage(conn, account_id, n, 1)
        await _seats(conn, account_id, n)
    if scored:
        await refresh_due(pool, catalog_loader(pool), NOW)
    key = await api_key(conn)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(PAGE, auth=key)
        log.statements.clear()
        data = await api.data(PAGE, auth=key)
    assert len(data["accounts"]["edges"]) == len(ids) - 1 + extra
    # the page of ids, the accounts, the stored scores; for accounts not scored yet, their
    # usage windows, targets, adoption (grants, checks, metric days), seats, denials
    assert len(log.statements) == (3 if scored else 10), log.statements


async def test_a_walk_keeps_its_ranking_and_its_cursor_serves_for_a_day(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api, clock: FixedClock
) -> None:
    ids = await _population(conn)
    operator = await api_key(conn, Role.OPERATOR)
    await refresh_due(pool, catalog_loader(pool), NOW)
    variables = {"days": 30, "first": 1}
    first = (await api.data(AT_RISK, variables, auth=operator))["accountsAtRisk"]
    assert UUID(first["edges"][0]["node"]["account"]["id"]) == ids["idle"]
    # The falling account recovers and is scored again: the walk goes on as it began.
    await conn.execute("update subscriptions set cancel_at_period_end = false")
    await conn.execute("delete from entitlement_denials")
    await outbox.enqueue(conn, "subscription.changed", ids["falling"], {})  # as a change does
    clock.advance(timedelta(hours=2))
    await refresh_due(pool, catalog_loader(pool), clock.now())
    after = first["pageInfo"]["endCursor"]
    rest = await api.data(AT_RISK, {**variables, "first": 5, "after": after}, auth=operator)
    nodes = [e["node"] for e in rest["accountsAtRisk"]["edges"]]
    assert [(UUID(n["account"]["id"]), n["score"]) for n in nodes] == [
        (ids["falling"], 24),
        (ids["healthy"], 100),
    ]
    assert rest["accountsAtRisk"]["rankedAt"] == NOW.isoformat()
    fresh = (await api.data(AT_RISK, variables, auth=operator))["accountsAtRisk"]
    assert fresh["rankedAt"] == clock.now().isoformat()
    assert (await api.data(HEALTH, {"id": str(ids["falling"])}, auth=operator))["account"][
        "health"
    ]["score"] > 24
    clock.advance(timedelta(days=1))
    expired = await api.data(AT_RISK, {**variables, "after": after}, auth=operator)
    assert expired["accountsAtRisk"]["field"] == "after"


@pytest.mark.parametrize("extra", [0, 6])
async def test_a_page_of_accounts_at_risk_costs_three_statements_whatever_the_accounts(
    conn: asyncpg.Connection, pool: asyncpg.Pool, make_api: MakeApi, extra: int
) -> None:
    await _population(conn)
    version = await conn.fetchval("select tier_version_id from subscriptions limit 1")
    for n in range(extra):
        await _usage(conn, await factories.account(conn, version), n, 1)
    await refresh_due(pool, catalog_loader(pool), NOW)
    operator = await api_key(conn, Role.OPERATOR)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(AT_RISK, {"days": 30, "first": 2}, auth=operator)
        log.statements.clear()
        data = await api.data(AT_RISK, {"days": 30, "first": 2}, auth=operator)
        after = data["accountsAtRisk"]["pageInfo"]["endCursor"]
        await api.data(AT_RISK, {"days": 30, "first": 2, "after": after}, auth=operator)
    assert len(data["accountsAtRisk"]["edges"]) == 2
    # the first page: the last round, the page, its accounts; the next: the page, its accounts
    assert len(log.statements) == 3 + 2, log.statements


def _forged(cursor: str, **changes: Any) -> str:
    p = decode_position(cursor)
    assert p is not None
    return encode_position(p._replace(**changes))


async def test_a_cursor_from_another_walk_or_forged_is_refused_as_input_never_failing(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    """Whatever `after` a client sends, the answer is a page or INVALID_INPUT on `after`:
    a cursor of another window or another caller (it would skip or repeat accounts), and
    one whose instant or day no walk could have (a day near 9999 overflowed the window's
    end, "Unexpected error."), are refused; the walk's own cursor still serves."""
    ids = await _population(conn)
    await refresh_due(pool, catalog_loader(pool), NOW)
    operator = await api_key(conn, Role.OPERATOR)
    partner = await api_key(conn, Role.PARTNER, ids["reseller"])

    async def at_risk(auth: str, after: str, days: int = 30) -> dict[str, Any]:
        data = await api.data(AT_RISK, {"days": days, "first": 1, "after": after}, auth=auth)
        return dict(data["accountsAtRisk"])

    first = await api.data(AT_RISK, {"days": 30, "first": 1}, auth=operator)
    cursor = first["accountsAtRisk"]["pageInfo"]["endCursor"]
    assert (await at_risk(operator, cursor))["__typename"] == "AccountRiskConnection"
    mine = await api.data(AT_RISK, {"days": 30, "first": 1}, auth=partner)
    theirs = mine["accountsAtRisk"]["pageInfo"]["endCursor"]
    assert (await at_risk(partner, theirs))["__typename"] == "AccountRiskConnection"

    as_of = NOW  # the round the walk reads
    refused = [
        (operator, cursor, 100),  # another window
        (partner, cursor, 30),  # another caller's walk
        (operator, theirs, 30),
        (operator, _forged(cursor, day=date.max), 30),
        (operator, _forged(cursor, day=date.min), 30),
        (operator, _forged(cursor, day=NOW.date() + timedelta(days=5)), 30),
        (operator, _forged(cursor, as_of=datetime.max.replace(tzinfo=UTC)), 30),
        (operator, _forged(cursor, as_of=as_of + timedelta(days=400)), 30),
        (operator, _forged(cursor, as_of=as_of - timedelta(days=2)), 30),
        (operator, _forged(cursor, within_days=10**6), 30),
    ]
    for auth, after, days in refused:
        found = await at_risk(auth, after, days)
        assert found == {
            "__typename": "InvalidInputError",
            "field": "after",
            "code": "INVALID_INPUT",
        }


async def test_the_job_ranks_an_account_by_the_renewal_after_one_not_yet_written(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api, clock: FixedClock
) -> None:
    # The factory's period ends on 5 December; on the 6th it has renewed to 5 January, as
    # every read shows it, though the scheduler has not written the renewal yet. The job
    # stored the stored row's 5 December: the account fell out of every window.
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    operator = await api_key(conn, Role.OPERATOR)
    clock.at = NOW + timedelta(days=21)

    assert await refresh_due(pool, catalog_loader(pool), clock.at) == 1

    found = (await api.data(AT_RISK, {"days": 31}, auth=operator))["accountsAtRisk"]
    assert [(e["node"]["account"]["id"], e["node"]["renewsOn"]) for e in found["edges"]] == [
        (str(account_id), "2027-01-05")
    ]


async def test_an_account_at_risk_is_shown_as_it_stands_as_its_own_view_shows_it(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api, clock: FixedClock
) -> None:
    # A downgrade to basic scheduled for 5 December has happened on the 6th, not yet
    # written: the job ranked the account by its subscription as it stands, but the list
    # showed the stored row's (pro, its period ending on 5 December) beside its view's.
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    operator = await api_key(conn, Role.OPERATOR)
    downgrade = await change(api, operator, account_id, "basic", 1, "down")
    assert downgrade["subscription"]["scheduledTier"] == {"key": "basic"}, downgrade
    clock.at = NOW + timedelta(days=21)
    assert await refresh_due(pool, catalog_loader(pool), clock.at) == 1

    found = (await api.data(AT_RISK_TIER, {"days": 31}, auth=operator))["accountsAtRisk"]
    [listed] = [e["node"]["account"] for e in found["edges"]]
    shown = (await api.data(VIEW_TIER, {"id": str(account_id)}, auth=operator))["account"]
    assert listed == shown
    assert (shown["tier"]["key"], shown["subscription"]["currentPeriodEnd"][:10]) == (
        "basic", "2027-01-05",
    )  # fmt: skip


ACCOUNT_TIER = "id tier { key } subscription { currentPeriodEnd }"
AT_RISK_TIER = """query($days: Int!) { accountsAtRisk(renewingWithinDays: $days) {
  ... on AccountRiskConnection { edges { node { account { ACCOUNT } } } } } }""".replace(
    "ACCOUNT", ACCOUNT_TIER
)
VIEW_TIER = "query($id: ID!) { account(id: $id) { ... on Account { ACCOUNT } } }".replace(
    "ACCOUNT", ACCOUNT_TIER
)
