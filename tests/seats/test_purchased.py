"""Setting the purchased seats: up and down, refused below the seats assigned unless the
users to release are named, releases audited, and a race with another change of the
subscription a VERSION_CONFLICT. Rolled back, the count goes back, but never below the
seats assigned."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from uuid import UUID

import asyncpg

from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.seats_api import ASSIGN, RELEASE, seat

SET = """mutation($id: ID!, $n: Int!, $v: Int!, $release: [String!], $key: String!) {
  seatsSetPurchased(accountId: $id, purchased: $n, expectedVersion: $v, release: $release,
                    idempotencyKey: $key) {
    __typename ... on SeatsPurchased { purchased assigned auditEntryId }
    ... on InvalidInputError { field message } ... on Error { code } } }"""
SEATS = """query($id: ID!) {
  account(id: $id) { ... on Account { seats { purchased assigned } } } }"""


async def _set(api: Api, key: str, account: UUID, n: int, v: int, release: Any = None) -> Any:
    variables = {"id": str(account), "n": n, "v": v, "release": release, "key": uuid.uuid4().hex}
    return (await api.data(SET, variables, auth=key))["seatsSetPurchased"]


async def test_purchased_seats_go_down_only_as_far_as_the_seats_held(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])  # 10 seats
    for user in ("ann", "bob", "cy"):
        variables = {"id": str(account), "user": user, "key": f"a-{user}"}
        await api.data(ASSIGN, variables, auth=key)

    up = await _set(api, key, account, 12, v=1)
    too_low = await _set(api, key, account, 2, v=2)
    named = await _set(api, key, account, 2, v=2, release=["bob"])
    stale = await _set(api, key, account, 5, v=2)
    seats = await conn.fetchval("select seats from subscriptions where account_id = $1", account)
    held = await conn.fetch(
        "select user_ref from seat_assignments where account_id = $1 and released_at is null",
        account,
    )
    actions = [r["action"] for r in await conn.fetch("select action from audit_log order by id")]

    assert up == {
        "__typename": "SeatsPurchased", "purchased": 12, "assigned": 3,
        "auditEntryId": up["auditEntryId"],
    }  # fmt: skip
    assert (too_low["__typename"], too_low["field"]) == ("InvalidInputError", "purchased")
    assert too_low["message"] == (
        "3 seats are assigned; name at least 1 more user to release in `release`"
    )
    assert (named["purchased"], named["assigned"]) == (2, 2)
    assert stale["code"] == "VERSION_CONFLICT"
    assert seats == 2 and sorted(r["user_ref"] for r in held) == ["ann", "cy"]
    assert actions[-3:] == ["subscription.seats_set", "seat.released", "subscription.seats_set"]


async def test_concurrent_settings_at_one_version_let_one_win(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    answers = await asyncio.gather(*(_set(api, key, account, n, v=1) for n in range(3, 13)))
    kinds = [a["__typename"] for a in answers]
    assert kinds.count("SeatsPurchased") == 1 and kinds.count("VersionConflictError") == 9


async def _seats(api: Api, key: str, account: UUID) -> Any:
    return (await api.data(SEATS, {"id": str(account)}, auth=key))["account"]["seats"]


async def test_rolling_back_a_seat_count_restores_the_count(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])  # 10 seats
    up = await _set(api, key, account, 7, v=1)

    undone = await rollback(api, key, up["auditEntryId"], "undo-seats")

    assert undone["__typename"] == "RolledBack", undone
    before, after = undone["entry"]["before"], undone["entry"]["after"]
    assert (before["seats"], after["seats"]) == (7, 10)
    assert await _seats(api, key, account) == {"purchased": 10, "assigned": 0}
    assert await conn.fetchval(
        "select seats from subscriptions where account_id = $1", account
    ) == 10  # fmt: skip


async def test_a_rollback_below_the_seats_held_is_refused_until_they_are_released(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute("update subscriptions set seats = 2 where account_id = $1", account)
    up = await _set(api, key, account, 5, v=1)
    for user in ("ann", "bob", "cy"):
        assert (await api.data(ASSIGN, seat(account, user), auth=key))["seatAssign"]["held"]
    counts = "select (select count(*) from audit_log), (select count(*) from events)"
    before = await conn.fetchrow(counts)

    refused = await rollback(api, key, up["auditEntryId"], "undo-1")
    after = await conn.fetchrow(counts)
    kept = await _seats(api, key, account)
    await api.data(RELEASE, seat(account, "bob", "release-bob"), auth=key)
    undone = await rollback(api, key, up["auditEntryId"], "undo-2")

    assert refused["__typename"] == "SeatsExhaustedError", refused
    assert (refused["purchased"], refused["assigned"]) == (2, 3)
    assert refused["message"] == (
        f"3 seats are assigned, and rolling back entry #{up['auditEntryId']} would leave 2 "
        "purchased: release 1 seat first"
    )
    assert after == before  # nothing written: no entry, no event
    assert kept == {"purchased": 5, "assigned": 3}
    assert undone["__typename"] == "RolledBack", undone
    assert await _seats(api, key, account) == {"purchased": 2, "assigned": 2}


CANCEL_NOW = """mutation($id: ID!, $key: String!) {
  subscriptionCancel(accountId: $id, expectedVersion: 1, atPeriodEnd: false,
                     idempotencyKey: $key) { __typename } }"""


async def test_a_canceled_subscription_takes_no_seats_but_frees_them(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Every change of a canceled subscription is refused; seats were still bought and
    assigned on one. Freeing a seat grants nothing, so it stays allowed, rollbacks too."""
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    assigned = {u: await api.data(ASSIGN, seat(account, u), auth=key) for u in ("ann", "bob")}
    await api.data(CANCEL_NOW, {"id": str(account), "key": "cancel"}, auth=key)
    counts = "select (select count(*) from audit_log), (select count(*) from events)"
    before = await conn.fetchrow(counts)

    bought = await _set(api, key, account, 12, v=2)
    dropped = await _set(api, key, account, 1, v=2, release=["bob"])
    taken = (await api.data(ASSIGN, seat(account, "cy"), auth=key))["seatAssign"]
    refused = await conn.fetchrow(counts)
    freed = (await api.data(RELEASE, seat(account, "bob", "free-bob"), auth=key))["seatRelease"]
    given_back = await rollback(api, key, freed["auditEntryId"], "undo-free")
    taken_back = await rollback(api, key, assigned["ann"]["seatAssign"]["auditEntryId"], "u")

    for answer in (bought, dropped, taken):
        assert (answer["__typename"], answer["field"]) == ("InvalidInputError", "accountId")
    assert bought["message"] == "the subscription is canceled"
    assert refused == before  # nothing written, not even the release named
    assert (freed["__typename"], freed["held"]) == ("SeatChanged", False)
    assert (given_back["__typename"], given_back["message"]) == (
        "InvalidInputError", "the subscription is canceled"
    )  # fmt: skip
    assert taken_back["__typename"] == "RolledBack", taken_back
    assert await _seats(api, key, account) == {"purchased": 10, "assigned": 0}
