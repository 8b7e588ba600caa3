"""Grant changes end to end: audited, idempotent, versioned, validated."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.common.quantities import MAX_PERCENT
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.entitlements_api import CHANGED, CREATE, UPDATE, create_vars, setup
from tests.fixtures.metering_api import RECORD, event

REVOKE = f"""
mutation Revoke($grant: ID!, $version: Int!, $key: String!) {{
  grantRevoke(grantId: $grant, expectedVersion: $version, idempotencyKey: $key) {{ {CHANGED} }}
}}
"""
OVERRIDE = f"""
mutation Override($id: ID!, $metric: String!, $included: Float!, $key: String!) {{
  limitOverride(accountId: $id, metric: $metric, included: $included, idempotencyKey: $key)
  {{ {CHANGED} }}
}}
"""
VIEW = """
query View($id: ID!) { account(id: $id) { ... on Account {
  entitlements { benefit { key } source }
  usage { metric { key } limit enforcement }
  grants { id benefit { key } source version } } } }
"""


async def test_a_grant_shows_on_the_account_with_its_audit_entry_and_event(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    created = (await api.data(CREATE, create_vars(account_id, reason="escalation"), auth=key))[
        "grantCreate"
    ]
    assert created["__typename"] == "GrantChanged" and created["replayed"] is False
    grant = created["grant"]
    assert (grant["benefit"], grant["source"], grant["version"]) == ({"key": "b2"}, "MANUAL", 1)
    view = (await api.data(VIEW, {"id": str(account_id)}, auth=frontend_token(account_id)))[
        "account"
    ]
    assert {"benefit": {"key": "b2"}, "source": "MANUAL"} in view["entitlements"]
    assert view["grants"] == [
        {"id": grant["id"], "benefit": {"key": "b2"}, "source": "MANUAL", "version": 1}
    ]
    entry = await conn.fetchrow("select * from audit_log")
    assert entry["id"] == int(created["auditEntryId"])
    assert entry["actor"].startswith("key:") and entry["request_id"]
    assert (entry["action"], entry["target_kind"], entry["target_id"]) == (
        "grant.created",
        "grant",
        grant["id"],
    )
    assert (entry["before"], entry["reason"], entry["account_id"]) == (
        None,
        "escalation",
        account_id,
    )
    assert entry["after"]["benefit"] == "b2" and entry["after"]["version"] == 1
    event = await conn.fetchrow(
        "select type, payload from events where account_id = $1", account_id
    )
    assert event["type"] == "entitlement.changed"
    assert event["payload"]["action"] == "grant.created"
    assert event["payload"]["auditEntryId"] == entry["id"]


async def test_two_operators_updating_one_grant_one_wins_the_other_gets_a_version_conflict(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    other = await api_key(conn, Role.OPERATOR)
    created = await api.data(CREATE, create_vars(account_id, benefit="m0_more", amount=5), auth=key)
    grant_id = created["grantCreate"]["grant"]["id"]
    results = await asyncio.gather(
        api.data(UPDATE, {"grant": grant_id, "version": 1, "key": "a", "amount": 10}, auth=key),
        api.data(UPDATE, {"grant": grant_id, "version": 1, "key": "b", "amount": 20}, auth=other),
    )
    outcomes = sorted((r["grantUpdate"] for r in results), key=lambda r: r["__typename"])
    winner, loser = outcomes
    assert winner["__typename"] == "GrantChanged" and winner["grant"]["version"] == 2
    assert loser["__typename"] == "VersionConflictError"
    assert (loser["code"], loser["expectedVersion"], loser["currentVersion"]) == (
        "VERSION_CONFLICT",
        1,
        2,
    )
    stored = await conn.fetchrow("select amount, version from grants")
    assert (float(stored["amount"]), stored["version"]) == (winner["grant"]["amount"], 2)
    actions = await conn.fetch("select action from audit_log order by id")
    assert [a["action"] for a in actions] == ["grant.created", "grant.updated"]


async def test_concurrent_calls_with_one_idempotency_key_have_one_effect(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    variables = create_vars(account_id, key="same")
    results = await asyncio.gather(*(api.data(CREATE, variables, auth=key) for _ in range(10)))
    kinds = [r["grantCreate"]["__typename"] for r in results]
    assert set(kinds) <= {"GrantChanged", "IdempotencyConflictError"}
    assert await conn.fetchval("select count(*) from grants") == 1
    assert await conn.fetchval("select count(*) from audit_log") == 1
    assert await conn.fetchval("select count(*) from events") == 1
    retried = (await api.data(CREATE, variables, auth=key))["grantCreate"]
    assert retried["replayed"] is True
    assert retried["grant"]["id"] == await conn.fetchval("select id::text from grants")
    reused = (await api.data(CREATE, {**variables, "benefit": "b1"}, auth=key))["grantCreate"]
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await conn.fetchval("select count(*) from grants") == 1


async def test_a_limit_override_replaces_the_tier_limit_until_it_is_revoked(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)

    async def m0_limit() -> float:
        view = await api.data(VIEW, {"id": str(account_id)}, auth=key)
        usage = view["account"]["usage"]
        limit: float = next(u["limit"] for u in usage if u["metric"]["key"] == "m0")
        return limit

    assert await m0_limit() == 100
    variables = {"id": str(account_id), "metric": "m0", "included": 500, "key": "o1"}
    overridden = (await api.data(OVERRIDE, variables, auth=key))["limitOverride"]
    assert overridden["grant"]["mode"] == "OVERRIDE"
    assert overridden["grant"]["benefit"] == {"key": "m0_more"}
    assert await m0_limit() == 500
    revoke = {"grant": overridden["grant"]["id"], "version": 1, "key": "r1"}
    revoked = (await api.data(REVOKE, revoke, auth=key))["grantRevoke"]
    assert revoked["grant"]["revokedAt"] is not None and revoked["grant"]["version"] == 2
    assert await m0_limit() == 100
    again = (await api.data(REVOKE, {**revoke, "version": 2, "key": "r2"}, auth=key))["grantRevoke"]
    assert (again["code"], again["field"]) == ("INVALID_INPUT", "grantId")
    no_benefit = (await api.data(OVERRIDE, {**variables, "metric": "m1", "key": "o2"}, auth=key))[
        "limitOverride"
    ]
    assert (no_benefit["code"], no_benefit["field"]) == ("INVALID_INPUT", "metric")


async def test_bad_grants_get_typed_errors_and_write_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    await conn.execute(
        """insert into benefits (key, name, kind, introduced_on)
           values ('services', 'Services credit', 'credit', '2025-01-01')"""
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"benefit": "nope"}, "benefit"),
        # A credit's grant is a lot: something to spend, counted to a millionth.
        ({"benefit": "services", "amount": 0}, "amount"),
        ({"benefit": "services", "amount": 1e-7}, "amount"),
        ({"benefit": "services", "amount": 0.1 + 0.2}, "amount"),
        ({"benefit": "services", "amount": 1e16}, "amount"),
        ({"source": "TIER"}, "source"),
        ({"benefit": "m0_more"}, "amount"),
        ({"benefit": "m0_more", "amount": -1}, "amount"),
        ({"benefit": "m0_more", "amount": 1e308}, "amount"),  # two made an infinite limit
        ({"until": "2020-01-01T00:00:00Z"}, "validUntil"),
        ({"reason": "x" * 501}, "reason"),
        ({"key": ""}, "idempotencyKey"),
    ]
    for i, (change, field) in enumerate(cases):
        variables = {**create_vars(account_id, key=f"bad{i}"), **change}
        result = (await api.data(CREATE, variables, auth=key))["grantCreate"]
        assert (result["code"], result["field"]) == ("INVALID_INPUT", field), change
    partner_key = await api_key(conn, Role.PARTNER, await factories.partner(conn))
    token = frontend_token(account_id)
    for auth, code in [(token, "FORBIDDEN"), (partner_key, "NOT_FOUND")]:
        result = (await api.data(CREATE, create_vars(account_id), auth=auth))["grantCreate"]
        assert result["code"] == code
    missing = create_vars(UUID(int=1))
    assert (await api.data(CREATE, missing, auth=key))["grantCreate"]["code"] == "NOT_FOUND"
    stale = {"grant": str(UUID(int=2)), "version": 1, "key": "u"}
    assert (await api.data(UPDATE, stale, auth=key))["grantUpdate"]["code"] == "NOT_FOUND"
    for table in ("grants", "audit_log", "events", "idempotency_keys"):
        assert await conn.fetchval(f"select count(*) from {table}") == 0, table  # noqa: S608


WINDOW = f"""
mutation Window($id: ID!, $key: String!, $from: DateTime, $until: DateTime) {{
  grantCreate(accountId: $id, benefit: "b2", source: PROMOTIONAL, idempotencyKey: $key,
              validFrom: $from, validUntil: $until) {{ {CHANGED} }}
}}
"""
OVERRIDE_UNTIL = f"""
mutation Override($id: ID!, $key: String!, $until: DateTime) {{
  limitOverride(accountId: $id, metric: "m0", included: 500, idempotencyKey: $key,
                validUntil: $until) {{ {CHANGED} }}
}}
"""
END = f"""
mutation End($grant: ID!, $version: Int!, $key: String!, $until: DateTime) {{
  grantUpdate(grantId: $grant, expectedVersion: $version, idempotencyKey: $key,
              validUntil: $until) {{ {CHANGED} }}
}}
"""


async def test_an_operator_grant_that_ended_already_is_refused_never_a_silent_success(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    ended = {"from": "2026-11-01T00:00:00Z", "until": "2026-11-15T11:59:59Z"}  # now: 12:00
    at_now = {"from": "2026-11-01T00:00:00Z", "until": "2026-11-15T12:00:00Z"}
    variables = {"id": str(account_id)}
    # Each was a GrantChanged, with an audit entry and an event, for a grant never in force.
    answers = [
        (await api.data(WINDOW, {**variables, "key": "w1", **ended}, auth=key))["grantCreate"],
        (await api.data(WINDOW, {**variables, "key": "w2", **at_now}, auth=key))["grantCreate"],
        (
            await api.data(
                OVERRIDE_UNTIL, {**variables, "key": "o1", "until": ended["until"]}, auth=key
            )
        )["limitOverride"],
    ]
    assert [(a["code"], a["field"]) for a in answers] == [("INVALID_INPUT", "validUntil")] * 3
    assert "revoke to end one now" in answers[0]["message"]
    for table in ("grants", "audit_log", "events", "idempotency_keys"):
        assert await conn.fetchval(f"select count(*) from {table}") == 0, table  # noqa: S608

    # Its neighbours stand: a grant from the past that runs on, and one ending later.
    runs_on = {"from": ended["from"], "until": "2026-11-15T12:00:01Z"}
    created = (await api.data(WINDOW, {**variables, "key": "w3", **runs_on}, auth=key))[
        "grantCreate"
    ]
    assert created["__typename"] == "GrantChanged"
    grant = created["grant"]["id"]
    moved_back = {"grant": grant, "version": 1, "key": "e1", "until": ended["until"]}
    refused = (await api.data(END, moved_back, auth=key))["grantUpdate"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "validUntil")
    open_ended = (await api.data(END, {**moved_back, "key": "e2", "until": None}, auth=key))[
        "grantUpdate"
    ]
    assert (open_ended["grant"]["validUntil"], open_ended["grant"]["version"]) == (None, 2)


async def test_usage_against_a_limit_too_small_for_its_share_shows_the_largest_percent(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A limit of 5e-324 made used / limit * 100 infinite, which GraphQL's Float refused:
    the view failed on `usage.percent`. Limits nearer 0 than 10^-12 are refused now; one
    stored before that bound saturates at the largest float."""
    account_id, key = await setup(conn)
    variables = {"id": str(account_id), "metric": "m0", "included": 5e-324, "key": "o0"}
    refused = (await api.data(OVERRIDE, variables, auth=key))["limitOverride"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "included")
    variables = {**variables, "included": 1e-12, "key": "o1"}
    overridden = (await api.data(OVERRIDE, variables, auth=key))["limitOverride"]
    assert overridden["grant"]["mode"] == "OVERRIDE"
    await conn.execute("update grants set amount = 5e-324 where account_id = $1", account_id)
    recorded = await api.data(RECORD, {"events": [event(account_id, "e1", 5)]}, auth=key)
    assert recorded["usageRecord"]["accepted"] == 1
    usage = """query($id: ID!) { account(id: $id) { ... on Account {
      usage { metric { key } used limit percent } } } }"""
    view = await api.data(usage, {"id": str(account_id)}, auth=key)
    m0 = next(u for u in view["account"]["usage"] if u["metric"]["key"] == "m0")
    assert m0 == {"metric": {"key": "m0"}, "used": 5, "limit": 5e-324, "percent": MAX_PERCENT}
