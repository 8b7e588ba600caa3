import gc
from datetime import timedelta

import asyncpg

from benefitgate.auth.principals import Role
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW

VIEW = """
query View($id: ID!) {
  account(id: $id) {
    __typename
    ... on Account {
      id name
      subscription { status term seats renewalDate }
      tier { key rank exclusions { benefit { key } includedIn { key } } }
      entitlements { benefit { key } source sources amount expiresAt }
      usage { metric { key } used limit remaining percent unlimited enforcement }
      nextTier { tier { key } addedBenefits { key } raisedLimits { metric { key } current next }
                 monthlyPriceDelta { amountCents currency } }
    }
    ... on Error { code message }
  }
}
"""


async def test_account_view_resolves_tier_grants_and_usage(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, benefits=3, metrics=2)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await factories.grant(
        conn, account_id, "b2", source="trial", valid_until=NOW + timedelta(days=5)
    )
    await factories.grant(
        conn, account_id, "b1", source="addon", valid_until=NOW - timedelta(hours=1)
    )
    await factories.usage(conn, account_id, "m0", 80)

    data = await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id))
    view = data["account"]

    assert view["__typename"] == "Account"
    assert view["tier"]["key"] == "basic"
    assert view["tier"]["exclusions"] == [{"benefit": {"key": "b2"}, "includedIn": {"key": "pro"}}]
    entitlements = {e["benefit"]["key"]: e for e in view["entitlements"]}
    assert set(entitlements) == {"b0", "b2"}  # b1's grant expired; b2's trial lifts the exclusion
    assert entitlements["b0"]["source"] == "TIER" and entitlements["b0"]["expiresAt"] is None
    assert entitlements["b2"]["source"] == "TRIAL"
    assert entitlements["b2"]["expiresAt"].startswith("2026-11-20T12:00:00")
    usage = {u["metric"]["key"]: u for u in view["usage"]}
    assert usage["m0"] == {
        "metric": {"key": "m0"},
        "used": 80.0,
        "limit": 100.0,
        "remaining": 20.0,
        "percent": 80.0,
        "unlimited": False,
        "enforcement": "HARD",
    }
    assert usage["m1"]["used"] == 0.0
    assert view["nextTier"]["tier"]["key"] == "pro"
    assert [b["key"] for b in view["nextTier"]["addedBenefits"]] == ["b1", "b2"]
    assert view["nextTier"]["monthlyPriceDelta"] == {"amountCents": 4000, "currency": "USD"}
    assert {
        r["metric"]["key"]: (r["current"], r["next"]) for r in view["nextTier"]["raisedLimits"]
    } == {"m0": (100.0, 1000.0), "m1": (100.0, 1000.0)}


async def test_limit_grants_raise_the_limit_shown(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    await conn.execute(
        """insert into benefits (key, name, kind, metric_key, introduced_on)
           values ('extra_m0', 'Extra m0', 'limit', 'm0', '2025-01-01')"""
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await factories.grant(conn, account_id, "extra_m0", source="addon", amount=50)

    data = await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id))

    usage = {u["metric"]["key"]: u for u in data["account"]["usage"]}
    assert usage["m0"]["limit"] == 150.0
    assert usage["m1"]["limit"] == 100.0


async def test_usage_projects_the_period_end_and_the_day_the_limit_is_reached(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn, metrics=1)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # 10 of 30 days in
    await factories.usage(conn, account_id, "m0", 40)  # hard limit 100
    query = """query View($id: ID!) { account(id: $id) { ... on Account {
      usage { used projected limitReachedAt } } } }"""
    data = await api.data(query, {"id": str(account_id)}, auth=frontend_token(account_id))
    assert data["account"]["usage"] == [
        {"used": 40, "projected": 120, "limitReachedAt": (NOW + timedelta(days=15)).isoformat()}
    ]


async def test_another_accounts_view_is_not_found_for_a_frontend(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    mine = await factories.account(conn, cat["versions"]["basic"])
    theirs = await factories.account(conn, cat["versions"]["basic"])

    data = await api.data(VIEW, {"id": str(theirs)}, auth=frontend_token(mine))
    missing = await api.data(
        VIEW, {"id": "00000000-0000-4000-8000-000000000000"}, auth=frontend_token(mine)
    )

    assert data["account"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "message": "account not found",
    }
    assert missing["account"] == data["account"]  # existence is not revealed


async def test_partners_see_only_the_accounts_they_manage(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    partner_a, partner_b = await factories.partner(conn, "A"), await factories.partner(conn, "B")
    of_a = await factories.account(conn, cat["versions"]["basic"], partner_id=partner_a)
    of_b = await factories.account(conn, cat["versions"]["pro"], partner_id=partner_b)
    key_a = await api_key(conn, Role.PARTNER, partner_a)

    own = await api.data(VIEW, {"id": str(of_a)}, auth=key_a)
    other = await api.data(VIEW, {"id": str(of_b)}, auth=key_a)
    listed = await api.data(
        "{ accounts(first: 10) { ... on AccountConnection { edges { node { id } } } } }", auth=key_a
    )

    assert own["account"]["id"] == str(of_a)
    assert other["account"]["code"] == "NOT_FOUND"
    assert [e["node"]["id"] for e in listed["accounts"]["edges"]] == [str(of_a)]


async def test_accounts_pages_with_keyset_cursors(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    ids = sorted([str(await factories.account(conn, cat["versions"]["basic"])) for _ in range(5)])
    admin = await api_key(conn)
    query = """query Page($after: String) { accounts(first: 2, after: $after) {
        ... on AccountConnection {
          edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }"""

    seen, after, pages = [], None, 0
    while True:
        page = (await api.data(query, {"after": after}, auth=admin))["accounts"]
        seen += [e["node"]["id"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == ids
    assert pages == 3


async def test_first_above_the_cap_and_bad_cursors_are_invalid_input(
    conn: asyncpg.Connection, api: Api
) -> None:
    admin = await api_key(conn)
    query = """query($first: Int!, $after: String) { accounts(first: $first, after: $after) {
        __typename ... on InvalidInputError { code field message } } }"""

    too_many = await api.data(query, {"first": 101}, auth=admin)
    bad_cursor = await api.data(query, {"first": 5, "after": "%%%"}, auth=admin)
    bad_id = await api.data(
        '{ account(id: "nope") { ... on InvalidInputError { code field } } }', auth=admin
    )

    assert (
        too_many["accounts"]["code"] == "INVALID_INPUT" and too_many["accounts"]["field"] == "first"
    )
    assert bad_cursor["accounts"]["field"] == "after"
    assert bad_id["account"] == {"code": "INVALID_INPUT", "field": "id"}


async def test_frontends_cannot_list_accounts(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])

    data = await api.data(
        "{ accounts { ... on ForbiddenError { code } } }", auth=frontend_token(account_id)
    )

    assert data["accounts"] == {"code": "FORBIDDEN"}


async def test_dev_mode_alone_admits_anonymous_callers(make_api: MakeApi) -> None:
    async with make_api(dev_mode=True) as api:
        anonymous = await api.post("{ tiers { key } }")
    async with make_api() as api:
        refused = await api.post("{ tiers { key } }")

    assert anonymous.status_code == 200
    assert refused.status_code == 401


async def test_a_view_request_leaves_no_reference_cycles(
    conn: asyncpg.Connection, api: Api
) -> None:
    # Cycles hold a request's context, loaders and values until the cyclic collector runs,
    # and its pauses under load were most of the view's tail latency.
    cat = await factories.catalog(conn, benefits=3, metrics=2)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id))
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id))
        gc.collect()
        ours = {
            type(o).__module__ + "." + type(o).__qualname__
            for o in gc.garbage
            if type(o).__module__.split(".")[0] in {"benefitgate", "strawberry", "graphql"}
        }
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == set()
