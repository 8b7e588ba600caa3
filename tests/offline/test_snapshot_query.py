"""entitlementSnapshot: a signed statement of exactly what entitlementCheck answers at
signing, no more; for whoever may check the account; expiring no later than what it
states could change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import jwt

from benefitgate.auth.principals import Role
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.statements import StatementLog

SNAPSHOT = """query($id: ID!) { entitlementSnapshot(accountId: $id) {
  __typename
  ... on EntitlementSnapshot { token keyId issuedAt expiresAt }
  ... on Error { code } } }"""

CHECK = """query($id: ID!, $feature: String, $metric: String, $requested: Float! = 1) {
  entitlementCheck(accountId: $id, feature: $feature, metric: $metric, requested: $requested) {
    __typename ... on EntitlementCheck { allowed reason remaining } } }"""

REVOKE = """mutation($grant: ID!) { grantRevoke(grantId: $grant, expectedVersion: 1,
  idempotencyKey: "revoke-1") { __typename } }"""


async def _snapshot(api: Api, account: UUID | str, auth: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(SNAPSHOT, {"id": str(account)}, auth=auth))[
        "entitlementSnapshot"
    ]
    return found


async def _verified(api: Api, token: str) -> dict[str, Any]:
    """The claims, verified against the service's published keys (the test clock's
    snapshots are long expired by the wall clock, so expiry is checked by the test)."""
    keys = (await api.client.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in keys["keys"] if k["kid"] == kid)
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["EdDSA"], options={"verify_exp": False}
    )
    return claims


async def _check(api: Api, auth: str, account: UUID, **kw: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(CHECK, {"id": str(account), **kw}, auth=auth))[
        "entitlementCheck"
    ]
    return found


def _allows(
    claims: dict[str, Any], feature: str | None, metric: str | None, requested: float
) -> bool:
    """The README's rule: what a verifier answers from the claims alone."""
    if feature is not None:
        return feature in claims["entitlements"]
    limit = claims["limits"].get(metric)
    if limit is None:
        return False
    if limit["enforcement"] != "hard":
        return True
    return bool(limit["used"] + requested <= limit["included"])


async def _assert_answers_as_checks(
    api: Api, auth: str, account: UUID, claims: dict[str, Any], cat: dict[str, Any]
) -> None:
    """Every feature, and every metric at several amounts, as the check answers now."""
    asked = [(b, None, 1.0) for b in cat["benefits"]]
    asked += [(None, m, r) for m in cat["metrics"] for r in (0.0, 1.0, 60.0, 61.0, 5000.0)]
    for feature, metric, requested in asked:
        check = await _check(
            api, auth, account, feature=feature, metric=metric, requested=requested
        )
        assert check["allowed"] == _allows(claims, feature, metric, requested), (
            feature, metric, requested, check, claims,
        )  # fmt: skip
        stated = claims["limits"].get(metric, {})
        if "remaining" in stated:
            assert check["remaining"] == stated["remaining"]


async def _catalog(conn: asyncpg.Connection) -> dict[str, Any]:
    """Basic and pro (m0 and m1 limited), an `ent` tier with m0 unlimited, and a metric m9
    no tier limits."""
    cat = await factories.catalog(conn)
    await conn.execute("insert into metrics values ('m9', 'm9', 'calls', 'sum', 'never')")
    await conn.execute("insert into tiers values ('ent', 'Enterprise', 2)")
    ent = await conn.fetchval(
        """insert into tier_versions (tier_key, version, value_narrative, currency,
           monthly_price_cents, annual_price_cents, support_level,
           support_first_response_hours, support_channels, effective_from)
           values ('ent', 1, 'n', 'USD', 9000, 90000, 'priority', 4, '{email}', $1)
           returning id""",
        NOW - timedelta(days=365),
    )
    await conn.execute(
        "insert into tier_limits values ($1, 'm0', 'unlimited', null), ($1, 'm1', 'hard', 10)",
        ent,
    )
    await conn.execute("update tier_versions set published_at = $2 where id = $1", ent, NOW)
    return {**cat, "versions": {**cat["versions"], "ent": ent}, "metrics": ["m0", "m1", "m9"]}


async def test_a_snapshot_states_exactly_what_checks_answer_when_it_was_signed(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _catalog(conn)
    basic = await factories.account(conn, cat["versions"]["basic"])
    pro = await factories.account(conn, cat["versions"]["pro"])
    ent = await factories.account(conn, cat["versions"]["ent"])
    await factories.grant(conn, basic, "b1")  # on top of the tier's b0
    await factories.usage(conn, basic, "m0", 40)
    await factories.usage(conn, pro, "m0", 1200)  # past a soft limit
    await factories.usage(conn, ent, "m1", 10)  # at a hard one
    admin = await api_key(conn)
    for account in (basic, pro, ent):
        signed = await _snapshot(api, account, frontend_token(account))
        claims = await _verified(api, signed["token"])
        await _assert_answers_as_checks(api, admin, account, claims, cat)
        assert claims["sub"] == str(account) and claims["iss"] == "benefitgate"
        assert jwt.get_unverified_header(signed["token"])["kid"] == signed["keyId"]

    # What the checks above compared, stated once plainly.
    basic_claims = await _verified(api, (await _snapshot(api, basic, admin))["token"])
    assert basic_claims["tier"] == "basic" and basic_claims["status"] == "active"
    assert basic_claims["entitlements"] == ["b0", "b1"]
    assert basic_claims["limits"]["m0"] == {
        "enforcement": "hard",
        "included": 100.0,
        "used": 40.0,
        "remaining": 60.0,
        "periodEnd": (NOW + timedelta(days=20)).isoformat(),
    }
    assert "m9" not in basic_claims["limits"]
    pro_claims = await _verified(api, (await _snapshot(api, pro, admin))["token"])
    assert pro_claims["limits"]["m0"]["enforcement"] == "soft"
    assert pro_claims["limits"]["m0"]["remaining"] == 0.0
    ent_claims = await _verified(api, (await _snapshot(api, ent, admin))["token"])
    assert ent_claims["limits"]["m0"] == {"enforcement": "unlimited"}
    assert ent_claims["limits"]["m1"]["remaining"] == 0.0


async def test_a_grant_revoked_after_signing_is_absent_from_the_next_snapshot(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    granted = await factories.grant(conn, account, "b1")
    token, admin = frontend_token(account), await api_key(conn)
    before = await _verified(api, (await _snapshot(api, account, token))["token"])
    assert "b1" in before["entitlements"]
    revoked = await api.data(REVOKE, {"grant": str(granted)}, auth=admin)
    assert revoked["grantRevoke"]["__typename"] == "GrantChanged"

    after = await _verified(api, (await _snapshot(api, account, token))["token"])
    assert "b1" not in after["entitlements"]
    await _assert_answers_as_checks(api, admin, account, after, cat)


async def test_a_suspended_account_is_signed_holding_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _catalog(conn)
    account = await factories.account(conn, cat["versions"]["pro"])
    await conn.execute(
        "update subscriptions set status = 'past_due' where account_id = $1", account
    )
    admin = await api_key(conn)
    claims = await _verified(api, (await _snapshot(api, account, admin))["token"])
    assert claims["status"] == "past_due" and claims["tier"] == "pro"
    assert claims["entitlements"] == [] and claims["limits"] == {}
    await _assert_answers_as_checks(api, admin, account, claims, cat)


async def test_a_snapshot_expires_after_its_lifetime_or_when_a_grant_in_it_ends(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _catalog(conn)
    plain = await factories.account(conn, cat["versions"]["basic"])
    ending = await factories.account(conn, cat["versions"]["basic"])
    await factories.grant(conn, ending, "b1", valid_until=NOW + timedelta(minutes=4))
    admin = await api_key(conn)

    signed = await _snapshot(api, plain, admin)
    claims = await _verified(api, signed["token"])
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(minutes=15)).timestamp())  # the default
    assert signed["issuedAt"] == NOW.isoformat()
    assert signed["expiresAt"] == (NOW + timedelta(minutes=15)).isoformat()
    short = await _verified(api, (await _snapshot(api, ending, admin))["token"])
    assert "b1" in short["entitlements"]
    assert short["exp"] == int((NOW + timedelta(minutes=4)).timestamp())


async def test_only_callers_who_may_check_the_account_get_its_snapshot(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await _catalog(conn)
    partner, other_partner = await factories.partner(conn), await factories.partner(conn, "B")
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    other = await factories.account(conn, cat["versions"]["basic"])
    managing = await api_key(conn, Role.PARTNER, partner)
    stranger = await api_key(conn, Role.PARTNER, other_partner)
    allowed = [frontend_token(account), managing, await api_key(conn, Role.OPERATOR)]
    for auth in allowed:
        assert (await _snapshot(api, account, auth))["__typename"] == "EntitlementSnapshot"
    refusals: list[tuple[str, UUID | str]] = [
        (frontend_token(other), account),  # a frontend: its own account only
        (stranger, account),  # a partner: the accounts it manages only
        (managing, other),
        (managing, uuid4()),  # no such account: the same answer
        (managing, "not-an-id"),
    ]
    for auth, asked in refusals:
        refused = await _snapshot(api, asked, auth)
        assert refused == {"__typename": "NotFoundError", "code": "NOT_FOUND"}


async def test_the_published_keys_are_public_and_cacheable(api: Api) -> None:
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    assert response.headers["cache-control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}  # no private part


async def test_a_snapshot_costs_three_statements_however_many_grants_and_metrics(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await _catalog(conn)
    bare = await factories.account(conn, cat["versions"]["ent"])
    busy = await factories.account(conn, cat["versions"]["basic"])
    for benefit in ("b1", "b2"):
        await factories.grant(conn, busy, benefit)
    for metric in ("m0", "m1"):
        await factories.usage(conn, busy, metric, 5)
    admin, log = await api_key(conn), StatementLog()
    counted = []
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await _snapshot(api, bare, admin)  # warms the connection, the key and the catalog
        for account in (bare, busy):
            log.statements.clear()
            assert (await _snapshot(api, account, admin))["__typename"] == "EntitlementSnapshot"
            counted.append(len(log.statements))
    assert counted == [3, 3]  # the account, its grants, its limited metrics' counters


async def test_the_response_cache_never_answers_a_snapshot_signed_before_a_change(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await _catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    granted = await factories.grant(conn, account, "b1")
    admin = await api_key(conn)
    async with make_api(response_cache=True) as api:
        before = await _snapshot(api, account, admin)
        assert "b1" in (await _verified(api, before["token"]))["entitlements"]
        await api.data(REVOKE, {"grant": str(granted)}, auth=admin)
        after = await _verified(api, (await _snapshot(api, account, admin))["token"])
    assert "b1" not in after["entitlements"]
