"""The audit log: append-only in the database, searchable, and every entry reversible as a
new forward change when nothing changed the target since."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.entitlements_api import CREATE, UPDATE, create_vars, setup
from tests.fixtures.seats_api import ASSIGN, RELEASE, seat

LOG = """
query Log($account: ID, $actor: String, $action: String, $from: DateTime, $to: DateTime,
          $first: Int! = 50, $after: String) {
  auditLog(accountId: $account, actor: $actor, action: $action, from: $from, to: $to,
           first: $first, after: $after) {
    __typename
    ... on AuditPage { entries { id actor action targetKind reason }
                       pageInfo { hasNextPage endCursor } }
    ... on Error { code }
  }
}
"""


async def test_audit_rows_cannot_be_updated_deleted_or_truncated_even_with_direct_sql(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    await api.data(CREATE, create_vars(account_id), auth=key)
    for statement in (
        "update audit_log set reason = 'nothing happened'",
        "delete from audit_log",
        "truncate audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
    assert await conn.fetchval("select count(*) from audit_log") == 1


async def test_a_rollback_chain_restores_the_original_state_in_reverse_order_only(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    created = await api.data(CREATE, create_vars(account_id, benefit="m0_more", amount=5), auth=key)
    grant_id = created["grantCreate"]["grant"]["id"]
    original = await conn.fetchrow("select amount, valid_until, revoked_at from grants")
    first = await api.data(
        UPDATE, {"grant": grant_id, "version": 1, "key": "u1", "amount": 10}, auth=key
    )
    second = await api.data(
        UPDATE, {"grant": grant_id, "version": 2, "key": "u2", "amount": 20}, auth=key
    )
    first_entry = first["grantUpdate"]["auditEntryId"]
    second_entry = second["grantUpdate"]["auditEntryId"]

    refused = await rollback(api, key, first_entry, "r1")
    assert refused["code"] == "ROLLBACK_REFUSED"
    assert refused["laterEntryIds"] == [second_entry]
    assert f"#{second_entry} grant.updated" in refused["message"]

    undone = await rollback(api, key, second_entry, "r2")
    assert undone["entry"]["rollbackOf"] == second_entry
    assert (undone["entry"]["before"]["amount"], undone["entry"]["after"]["amount"]) == (20, 10)
    assert (await rollback(api, key, first_entry, "r3"))["__typename"] == "RolledBack"
    restored = await conn.fetchrow("select amount, valid_until, revoked_at, version from grants")
    assert dict(restored) == {**dict(original), "version": 5}

    again = await rollback(api, key, first_entry, "r4")
    assert again["code"] == "ROLLBACK_REFUSED"  # already rolled back, by the last entry
    replay = await rollback(api, key, first_entry, "r3")
    assert replay["replayed"] is True
    # Both updates are undone, so the grant is as its creation left it: that too may go.
    creation = await rollback(api, key, created["grantCreate"]["auditEntryId"], "r5")
    assert creation["entry"]["after"]["revokedAt"] is not None
    assert await conn.fetchval("select revoked_at from grants") is not None
    actions = [r["action"] for r in await conn.fetch("select action from audit_log order by id")]
    assert actions == [
        "grant.created",
        "grant.updated",
        "grant.updated",
        "rollback",
        "rollback",
        "rollback",
    ]


async def test_a_rolled_back_entry_is_refused_again_after_its_rollback_was_rolled_back(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    created = await api.data(CREATE, create_vars(account_id), auth=key)
    creation = created["grantCreate"]["auditEntryId"]
    undo = (await rollback(api, key, creation, "r1"))["entry"]["id"]
    redo = (await rollback(api, key, undo, "r2"))["entry"]["id"]
    assert await conn.fetchval("select revoked_at from grants") is None

    # Was "Unexpected error.": the rollback's rollback hid the first rollback, and the
    # second rollback of one entry hit the database's one-rollback-per-entry constraint.
    again = await rollback(api, key, creation, "r3")
    assert (again["code"], again["laterEntryIds"]) == ("ROLLBACK_REFUSED", [undo])
    assert f"#{creation} was rolled back already, by #{undo}" in again["message"]
    twice = await rollback(api, key, undo, "r4")
    assert (twice["code"], twice["laterEntryIds"]) == ("ROLLBACK_REFUSED", [redo])
    # The redo is a change of its own, and may be rolled back like any other.
    assert (await rollback(api, key, redo, "r5"))["__typename"] == "RolledBack"
    assert await conn.fetchval("select revoked_at from grants") is not None
    assert await conn.fetchval("select count(*) from audit_log") == 4


async def test_a_change_redone_by_rolling_back_its_rollback_blocks_earlier_rollbacks(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    created = await api.data(CREATE, create_vars(account_id, benefit="m0_more", amount=5), auth=key)
    grant_id = created["grantCreate"]["grant"]["id"]
    updated = await api.data(
        UPDATE, {"grant": grant_id, "version": 1, "key": "u1", "amount": 10}, auth=key
    )
    update = updated["grantUpdate"]["auditEntryId"]
    undo = (await rollback(api, key, update, "r1"))["entry"]["id"]
    redo = (await rollback(api, key, undo, "r2"))["entry"]["id"]
    assert await conn.fetchval("select amount from grants") == 10

    # The update is in force again (redone), so the creation cannot be undone under it:
    # this revoked the grant, throwing the redone update away unseen.
    refused = await rollback(api, key, created["grantCreate"]["auditEntryId"], "r3")
    assert (refused["code"], refused["laterEntryIds"]) == ("ROLLBACK_REFUSED", [redo])
    assert await conn.fetchval("select revoked_at from grants") is None
    assert await conn.fetchval("select amount from grants") == 10


async def test_rolling_back_a_seat_release_respects_the_purchased_count(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, key = await setup(conn)
    await conn.execute("update subscriptions set seats = 1")
    await api.data(ASSIGN, seat(account_id, "ada"), auth=key)
    released = await api.data(RELEASE, seat(account_id, "ada", "free-ada"), auth=key)
    await api.data(ASSIGN, seat(account_id, "bob"), auth=key)
    entry = released["seatRelease"]["auditEntryId"]
    full = await rollback(api, key, entry, "r1")
    assert (full["code"], full["purchased"]) == ("SEATS_EXHAUSTED", 1)
    await api.data(RELEASE, seat(account_id, "bob", "free-bob"), auth=key)
    back = await rollback(api, key, entry, "r2")
    assert back["entry"]["after"] == {"user": "ada", "assignedAt": "2026-11-15T12:00:00+00:00"}
    holders = await conn.fetch("select user_ref from seat_assignments where released_at is null")
    assert [h["user_ref"] for h in holders] == ["ada"]


async def test_the_log_filters_by_account_actor_action_and_time_and_pages_newest_first(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account_id, admin = await setup(conn)
    operator = await api_key(conn, Role.OPERATOR)
    for i in range(5):
        auth = admin if i % 2 == 0 else operator
        await api.data(CREATE, create_vars(account_id, key=f"g{i}", reason=f"r{i}"), auth=auth)
        clock.advance(timedelta(hours=1))
    await api.data(ASSIGN, seat(account_id, "ada"), auth=admin)

    async def log(**variables: Any) -> list[str]:
        page = (await api.data(LOG, variables, auth=admin))["auditLog"]
        return [e["reason"] for e in page["entries"]]

    assert await log(account=str(account_id)) == ["", "r4", "r3", "r2", "r1", "r0"]
    admin_actor = await conn.fetchval("select actor from audit_log where reason = 'r0'")
    assert await log(actor=admin_actor, action="grant.created") == ["r4", "r2", "r0"]
    assert await log(**{"from": "2026-11-15T13:00:00Z", "to": "2026-11-15T15:00:00Z"}) == [
        "r2",
        "r1",
    ]
    seen, after = [], None
    while True:
        page = (await api.data(LOG, {"first": 2, "after": after}, auth=admin))["auditLog"]
        seen += [e["reason"] for e in page["entries"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == ["", "r4", "r3", "r2", "r1", "r0"]
    bad = (await api.data(LOG, {"after": "nonsense"}, auth=admin))["auditLog"]
    assert bad["code"] == "INVALID_INPUT"
    token = frontend_token(account_id, ttl=timedelta(hours=8))
    assert (await api.data(LOG, {}, auth=token))["auditLog"]["code"] == "FORBIDDEN"


async def test_an_entry_id_that_is_not_a_stored_serial_is_not_found_never_an_error(
    conn: asyncpg.Connection, api: Api
) -> None:
    _, key = await setup(conn)
    for raw in ("²", "0", "-1", "9" * 30, "12a"):
        result = await rollback(api, key, raw, f"odd-{len(raw)}-{raw[:2]}")
        assert result["code"] == "NOT_FOUND", raw


PROVISION = """mutation($partner: ID!) {
  partnerCreate(name: "Reseller", idempotencyKey: "p") { __typename }
  accountCreate(name: "Acme", partnerIds: [$partner], idempotencyKey: "a") { __typename }
}"""


async def test_account_partner_and_link_changes_are_not_rolled_back(
    conn: asyncpg.Connection, api: Api
) -> None:
    _, key = await setup(conn)
    partner = await factories.partner(conn)  # one to link; the mutation makes another
    made = await api.data(PROVISION, {"partner": str(partner)}, auth=key)
    assert made == {
        "partnerCreate": {"__typename": "PartnerCreated"},
        "accountCreate": {"__typename": "AccountProvisioned"},
    }
    entries = await conn.fetch(
        """select id, target_kind from audit_log
           where target_kind in ('account', 'partner', 'partner_link') order by id"""
    )
    count = await conn.fetchval("select count(*) from audit_log")

    refusals = {}
    for entry in entries:
        answer = await rollback(api, key, entry["id"], f"undo-{entry['id']}")
        refusals[entry["target_kind"]] = (answer["code"], answer["message"])

    assert refusals == {
        kind: ("INVALID_INPUT", f"{kind} changes cannot be rolled back")
        for kind in ("account", "partner", "partner_link")
    }
    assert await conn.fetchval("select count(*) from audit_log") == count
