"""Setting the purchased seats: up and down, refused below the seats assigned unless the
users to release are named, releases audited, and a race with another change of the
subscription a VERSION_CONFLICT."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from uuid import UUID

import asyncpg

from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.seats_api import ASSIGN

SET = """mutation($id: ID!, $n: Int!, $v: Int!, $release: [String!], $key: String!) {
  seatsSetPurchased(accountId: $id, purchased: $n, expectedVersion: $v, release: $release,
                    idempotencyKey: $key) {
    __typename ... on SeatsPurchased { purchased assigned }
    ... on InvalidInputError { field message } ... on Error { code } } }"""


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

    assert up == {"__typename": "SeatsPurchased", "purchased": 12, "assigned": 3}
    assert (too_low["__typename"], too_low["field"]) == ("InvalidInputError", "purchased")
    assert too_low["message"] == (
        "3 seats are assigned; name at least 1 more user to release in `release`"
    )
    assert named == {"__typename": "SeatsPurchased", "purchased": 2, "assigned": 2}
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
