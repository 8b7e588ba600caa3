"""Seats: assigned within the purchased count under any concurrency, visible per account."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from benefitgate.clock import FixedClock
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.seats_api import ASSIGN, RELEASE, seat

ACTIVITY = """
mutation Activity($id: ID!, $users: [String!]!) {
  seatActivity(accountId: $id, users: $users) {
    __typename ... on SeatActivityRecorded { marked } ... on Error { code } } }
"""
SEATS = """
query Seats($id: ID!) { account(id: $id) { ... on Account {
  seats { purchased assigned free holders { user assignedAt lastActiveAt } } } } }
"""


async def test_a_hundred_concurrent_assignments_never_exceed_the_purchased_seats(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # 10 seats
    key = await api_key(conn)
    async with make_api(pool_max=20) as api:
        results = await asyncio.gather(
            *(api.data(ASSIGN, seat(account_id, f"user{i}"), auth=key) for i in range(100))
        )
    kinds = [r["seatAssign"]["__typename"] for r in results]
    assert kinds.count("SeatChanged") == 10
    assert kinds.count("SeatsExhaustedError") == 90
    exhausted = next(r["seatAssign"] for r in results if "purchased" in r["seatAssign"])
    assert (exhausted["code"], exhausted["purchased"], exhausted["assigned"]) == (
        "SEATS_EXHAUSTED",
        10,
        10,
    )
    held = await conn.fetchval(
        "select count(*) from seat_assignments where account_id = $1 and released_at is null",
        account_id,
    )
    assert held == 10
    assert await conn.fetchval("select count(*) from audit_log") == 10
    assert await conn.fetchval("select count(*) from events where type = 'seats.changed'") == 10


async def test_the_allocation_view_follows_assignments_activity_and_releases(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    for user in ("ada", "bob"):
        assert (await api.data(ASSIGN, seat(account_id, user), auth=key))["seatAssign"]["held"]
    twice = (await api.data(ASSIGN, seat(account_id, "ada", "again"), auth=key))["seatAssign"]
    assert (twice["code"], twice["field"]) == ("INVALID_INPUT", "user")
    clock.advance(timedelta(hours=2))
    active = await api.data(ACTIVITY, {"id": str(account_id), "users": ["bob", "eve"]}, auth=key)
    assert active["seatActivity"]["marked"] == 1
    released = (await api.data(RELEASE, seat(account_id, "ada", "free-ada"), auth=key))[
        "seatRelease"
    ]
    assert (released["held"], released["replayed"]) == (False, False)
    gone = (await api.data(RELEASE, seat(account_id, "ada", "gone"), auth=key))["seatRelease"]
    assert gone["code"] == "NOT_FOUND"
    token = frontend_token(account_id, ttl=timedelta(hours=3))
    view = await api.data(SEATS, {"id": str(account_id)}, auth=token)
    assert view["account"]["seats"] == {
        "purchased": 10,
        "assigned": 1,
        "free": 9,
        "holders": [
            {
                "user": "bob",
                "assignedAt": "2026-11-15T12:00:00+00:00",
                "lastActiveAt": "2026-11-15T14:00:00+00:00",
            }
        ],
    }
    replayed = (await api.data(ASSIGN, seat(account_id, "ada"), auth=key))["seatAssign"]
    assert replayed["replayed"] is True  # the first key's result, not a new assignment
    assert (await api.data(SEATS, {"id": str(account_id)}, auth=key))["account"]["seats"][
        "assigned"
    ] == 1
    blank = (await api.data(ASSIGN, seat(account_id, " ", "blank"), auth=key))["seatAssign"]
    assert blank["field"] == "user"
    joined = await api.data(ASSIGN, seat(account_id, "ada\u2060", "joined"), auth=key)
    assert joined["seatAssign"]["field"] == "user"  # a blank at its end is not trimmed


async def test_a_seat_released_by_a_clock_behind_its_assignments_is_released_then(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    """Replicas' clocks differ: a release stamped before the assignment it ends (which a
    replica ahead made) frees the seat, and is not refused as a failure."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    clock.advance(timedelta(seconds=2))
    await api.data(ASSIGN, seat(account_id, "ada"), auth=key)
    clock.advance(timedelta(seconds=-1))
    released = await api.data(RELEASE, seat(account_id, "ada", "free-ada"), auth=key)

    assert released["seatRelease"]["__typename"] == "SeatChanged", released
    row = await conn.fetchrow("select assigned_at, released_at from seat_assignments")
    assert row["released_at"] == row["assigned_at"]
