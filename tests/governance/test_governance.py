"""The customer's governance view: its own audit trail with actors as roles or names
(never a key id), its seat allocation over time, and outcome-target changes audited and
reversible like every other change."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.common.changes import ChangeContext
from benefitgate.governance.actors import SYSTEM
from benefitgate.milestones import service as milestones
from benefitgate.subscriptions import due
from benefitgate.webhooks import dispatcher
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.entitlements_api import CREATE, create_vars, setup
from tests.fixtures.factories import NOW
from tests.fixtures.seats_api import ASSIGN, RELEASE, seat
from tests.fixtures.statements import StatementLog
from tests.targets.test_targets import REMOVE, SET, measured_catalog, set_vars

TRAIL = """
query Trail($id: ID!, $first: Int! = 20, $after: String) { account(id: $id) {
  __typename
  ... on Account { auditTrail(first: $first, after: $after) {
    ... on AccountChangePage { changes { id action actor { role name } targetKind before after
                                         reason rollbackOf }
                               pageInfo { hasNextPage endCursor } }
    ... on Error { code }
  } } } }
"""

SEATS = """
query Seats($id: ID!, $first: Int! = 20, $after: String) { account(id: $id) {
  ... on Account { seatHistory(first: $first, after: $after) {
    ... on SeatHistoryPage { moves { at kind user held purchased }
                             pageInfo { hasNextPage endCursor } }
    ... on Error { code }
  } } } }
"""

SET_PURCHASED = """
mutation Set($id: ID!, $n: Int!, $v: Int!, $key: String!, $release: [String!]) {
  seatsSetPurchased(accountId: $id, purchased: $n, expectedVersion: $v, idempotencyKey: $key,
                    release: $release) { __typename ... on Error { code message } }
}
"""


async def _trail(api: Api, account_id: UUID, auth: str, **kw: Any) -> dict[str, Any]:
    data = await api.data(TRAIL, {"id": str(account_id), **kw}, auth=auth)
    page: dict[str, Any] = data["account"]["auditTrail"]
    return page


async def _key(
    conn: asyncpg.Connection, role: Role, partner: UUID | None = None
) -> tuple[str, str]:
    issued = await apikeys.create_key(conn, name="named key", role=role, partner_id=partner)
    return issued.secret, issued.key.id


async def test_a_frontend_reads_its_own_trail_with_roles_and_names_never_a_key_id(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    reseller = await factories.partner(conn, "Northwind Resellers")
    account_id = await factories.account(conn, cat["versions"]["basic"], partner_id=reseller)
    other = await factories.account(conn, cat["versions"]["basic"])
    operator, operator_id = await _key(conn, Role.OPERATOR)
    admin, admin_id = await _key(conn, Role.ADMIN)
    _, partner_id = await _key(conn, Role.PARTNER, reseller)
    async with make_api(vendor_name="Acme Analytics") as api:
        await api.data(CREATE, create_vars(account_id, key="g1", reason="goodwill"), auth=admin)
        await api.data(ASSIGN, seat(account_id, "ada"), auth=operator)
        await api.data(CREATE, create_vars(other, key="g2"), auth=admin)
        # Changes no internal tool makes through this API: a partner's and the account's
        # own user's (as suggestion decisions record them), a job's, and a token whose
        # subject reads like a key.
        target = Target("grant", "g", account_id)
        for actor in (f"key:{partner_id}", "user-1", "milestones", "key:0123456789ab"):
            async with conn.transaction():
                change = ChangeContext(actor, "", None, NOW)
                await audit.record(conn, change, "note", target, None, {"n": 1})

        page = await _trail(api, account_id, frontend_token(account_id))
        actors = [(c["action"], c["actor"]["role"], c["actor"]["name"]) for c in page["changes"]]
        assert actors == [
            ("note", "USER", "a user of this account"),
            ("note", "SYSTEM", "Milestone rewards"),
            ("note", "USER", "user-1"),
            ("note", "PARTNER", "Northwind Resellers"),
            ("seat.assigned", "VENDOR_OPERATOR", "Acme Analytics"),
            ("grant.created", "VENDOR_ADMIN", "Acme Analytics"),
        ]
        assert page["changes"][-1]["reason"] == "goodwill"
        text = json.dumps(page)
        assert not any(k in text for k in (operator_id, admin_id, partner_id, "key:"))

        denied = await api.data(TRAIL, {"id": str(other)}, auth=frontend_token(account_id))
        assert denied["account"]["__typename"] == "NotFoundError"
        others = await _trail(api, other, frontend_token(other))
        assert [c["action"] for c in others["changes"]] == ["grant.created"]


async def test_the_trail_pages_newest_first_to_the_end_and_refuses_bad_cursors(
    conn: asyncpg.Connection, api: Api
) -> None:
    account_id, admin = await setup(conn)
    for n in range(5):
        await api.data(CREATE, create_vars(account_id, key=f"g{n}", reason=f"r{n}"), auth=admin)
    token = frontend_token(account_id)
    seen, after = [], None
    while True:
        page = await _trail(api, account_id, token, first=2, after=after)
        seen += [c["reason"] for c in page["changes"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == ["r4", "r3", "r2", "r1", "r0"]
    assert (await _trail(api, account_id, token, after="nonsense"))["code"] == "INVALID_INPUT"
    assert (await _trail(api, account_id, token, first=0))["code"] == "INVALID_INPUT"


async def test_outcome_target_changes_are_audited_and_rolled_back_like_any_other(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await measured_catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    admin = await api_key(conn)
    await api.data(SET, set_vars(account_id, "hours_saved", 60, note="Q4"), auth=admin)
    await api.data(SET, set_vars(account_id, "hours_saved", 60, note="Q4"), auth=admin)  # same
    await api.data(SET, set_vars(account_id, "hours_saved", 80), auth=admin)
    await api.data(REMOVE, {"id": str(account_id), "outcome": "hours_saved"}, auth=admin)

    page = await _trail(api, account_id, frontend_token(account_id))
    changes = [(c["action"], c["before"], c["after"]) for c in page["changes"]]
    q4 = {"outcome": "hours_saved", "target": 60, "from": "2026-11-01", "to": "2026-11-30"}
    eighty = {**q4, "target": 80, "note": ""}
    assert changes == [
        ("outcome_target.removed", eighty, None),
        ("outcome_target.set", {**q4, "note": "Q4"}, eighty),
        ("outcome_target.set", None, {**q4, "note": "Q4"}),
    ]
    assert {c["targetKind"] for c in page["changes"]} == {"outcome_target"}

    removal = page["changes"][0]["id"]
    refused = await rollback(api, admin, page["changes"][1]["id"], "u0")
    assert refused["code"] == "ROLLBACK_REFUSED"  # the removal came after it
    assert (await rollback(api, admin, removal, "u1"))["__typename"] == "RolledBack"
    assert await conn.fetchval("select target from outcome_targets") == 80
    assert (await rollback(api, admin, page["changes"][1]["id"], "u2"))["entry"]["after"][
        "note"
    ] == "Q4"
    restored = await conn.fetchrow("select target, note from outcome_targets")
    assert dict(restored) == {"target": 60, "note": "Q4"}
    events = await conn.fetch(
        "select payload from events where type like 'outcome_target.%' order by id"
    )
    assert all(isinstance(e["payload"]["auditEntryId"], int) for e in events)
    assert len(events) == 5


async def test_the_seat_history_shows_each_move_with_seats_held_and_purchased_after_it(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account_id, admin = await setup(conn)
    for user in ("ada", "bob", "cy"):
        await api.data(ASSIGN, seat(account_id, user), auth=admin)
        clock.advance(timedelta(minutes=1))
    await api.data(RELEASE, seat(account_id, "bob", "free-bob"), auth=admin)
    clock.advance(timedelta(minutes=1))
    lowered = {"id": str(account_id), "n": 1, "v": 1, "key": "p1", "release": ["cy"]}
    assert (await api.data(SET_PURCHASED, lowered, auth=admin))["seatsSetPurchased"][
        "__typename"
    ] == "SeatsPurchased"
    clock.advance(timedelta(minutes=1))
    raised = await api.data(
        SET_PURCHASED, {**lowered, "n": 4, "v": 2, "key": "p2", "release": []}, auth=admin
    )
    assert raised["seatsSetPurchased"]["__typename"] == "SeatsPurchased", raised
    await api.data(ASSIGN, seat(account_id, "dee"), auth=admin)

    token = frontend_token(account_id)
    moves, after = [], None
    while True:
        data = await api.data(
            SEATS, {"id": str(account_id), "first": 2, "after": after}, auth=token
        )
        page = data["account"]["seatHistory"]
        moves += [(m["kind"], m["user"], m["held"], m["purchased"]) for m in page["moves"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert moves == [
        ("ASSIGNED", "dee", 2, 4),
        ("PURCHASED", None, 1, 4),
        ("PURCHASED", None, 1, 1),
        ("RELEASED", "cy", 1, None),
        ("RELEASED", "bob", 2, None),
        ("ASSIGNED", "cy", 3, None),
        ("ASSIGNED", "bob", 2, None),
        ("ASSIGNED", "ada", 1, None),
    ]
    bad = await api.data(SEATS, {"id": str(account_id), "after": "x"}, auth=token)
    assert bad["account"]["seatHistory"]["code"] == "INVALID_INPUT"


PAGE = """{ accounts(first: 50) { ... on AccountConnection { edges { node {
  auditTrail(first: 3) { ... on AccountChangePage { changes { actor { name } } } }
  seatHistory(first: 3) { ... on SeatHistoryPage { moves { held } } } } } } } }"""


@pytest.mark.parametrize("size", [1, 6])
async def test_a_page_of_accounts_reads_every_trail_and_seat_history_in_fixed_statements(
    conn: asyncpg.Connection, make_api: MakeApi, size: int
) -> None:
    account_id, admin = await setup(conn)
    cat_version = await conn.fetchval("select tier_version_id from subscriptions")
    ids = [account_id] + [await factories.account(conn, cat_version) for _ in range(size - 1)]
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        for n, account in enumerate(ids):
            await api.data(CREATE, create_vars(account, key=f"g{n}"), auth=admin)
            for user in ("ada", "bob"):
                await api.data(ASSIGN, seat(account, user, f"{user}{n}"), auth=admin)
        await api.data(PAGE, auth=admin)
        log.statements.clear()
        data = await api.data(PAGE, auth=admin)
    edges = data["accounts"]["edges"]
    assert [len(e["node"]["auditTrail"]["changes"]) for e in edges] == [3] * size
    assert [[m["held"] for m in e["node"]["seatHistory"]["moves"]] for e in edges] == [
        [2, 1]
    ] * size
    # The trails, the keys among their actors, the seats: one statement each, whatever the
    # page's size (other statements on the one connection are the page's own two and the
    # background's: the listener's outbox reads, the webhook dispatcher's look for due
    # endpoints, which the writes' events wake).
    mine = [q for q in log.statements if re.search(r"\b(audit_log|api_keys|seat_assignments)\b", q)]
    assert len(mine) == 3, mine
    assert sum("from accounts" in q or "from subscriptions" in q for q in log.statements) <= 2


def test_every_job_that_changes_things_has_a_name_customers_see() -> None:
    """A job's actor missing from SYSTEM would show as a user named after the job."""
    jobs = {milestones.ACTOR, dispatcher.ACTOR, due.ACTOR, "import", "seed"}
    assert jobs <= set(SYSTEM)


async def test_who_set_an_outcome_target_is_named_for_customers_never_by_key_id(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await measured_catalog(conn)
    reseller = await factories.partner(conn, "Northwind Resellers")
    account_id = await factories.account(conn, cat["versions"]["basic"], partner_id=reseller)
    operator, operator_id = await _key(conn, Role.OPERATOR)
    partner, _ = await _key(conn, Role.PARTNER, reseller)
    query = """query($id: ID!) { account(id: $id) { ... on Account {
      outcomeTargets { outcome { key } setBy } } } }"""
    async with make_api(vendor_name="Acme Analytics") as api:
        await api.data(SET, set_vars(account_id, "hours_saved", 60), auth=operator)
        for auth in (frontend_token(account_id), partner):
            data = await api.data(query, {"id": str(account_id)}, auth=auth)
            assert data["account"]["outcomeTargets"] == [
                {"outcome": {"key": "hours_saved"}, "setBy": "Acme Analytics"}
            ]
        internal = await api.data(query, {"id": str(account_id)}, auth=operator)
        assert internal["account"]["outcomeTargets"][0]["setBy"] == f"key:{operator_id}"
