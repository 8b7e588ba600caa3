"""Seat history pages through a total order that later moves never shift: moves made
concurrently, in one instant, and with clocks that go back (as between replicas) keep
their place, so a walk gives the history as it stood at its first page exactly, and the
held counts follow the order the moves were made in."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benefitgate.clock import FixedClock
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.seats_api import ASSIGN, RELEASE

SEATS = """
query Seats($id: ID!, $first: Int!, $after: String) { account(id: $id) {
  ... on Account { seatHistory(first: $first, after: $after) {
    ... on SeatHistoryPage { moves { at kind user held purchased }
                             pageInfo { hasNextPage endCursor } } } } } }
"""

SET_PURCHASED = """
mutation Set($id: ID!, $n: Int!, $v: Int!, $key: String!) {
  seatsSetPurchased(accountId: $id, purchased: $n, expectedVersion: $v, idempotencyKey: $key)
  { __typename }
}
"""

USERS = ["ada", "bob", "cy"]
# A move: assign or release a user, or set the purchased count.
_MOVE = st.one_of(
    st.tuples(st.sampled_from(["assign", "release"]), st.sampled_from(USERS)),
    st.tuples(st.just("purchase"), st.integers(1, 4)),
)
# Moves sent at once, all at one instant: a few seconds on either side of the last.
_BATCH = st.tuples(st.integers(0, 2), st.lists(_MOVE, max_size=3))

Move = tuple[str, str | None, int, int | None]


async def _move(api: Api, account: UUID, version: int, key: str, move: Any) -> None:
    kind, arg = move
    if kind == "purchase":
        variables = {"id": str(account), "n": arg, "v": version, "key": str(uuid.uuid4())}
        await api.data(SET_PURCHASED, variables, auth=key)
    else:
        variables = {"id": str(account), "user": arg, "key": str(uuid.uuid4())}
        await api.data(ASSIGN if kind == "assign" else RELEASE, variables, auth=key)


async def _batch(
    api: Api, conn: asyncpg.Connection, clock: FixedClock, account: UUID, key: str, batch: Any
) -> None:
    """The moves, concurrently, at one instant (refusals are answers too: a seat taken
    twice, a count below the seats held, a version that moved)."""
    seconds, moves = batch
    clock.at = NOW + timedelta(seconds=seconds)
    version = await conn.fetchval(
        "select version from subscriptions where account_id = $1", account
    )
    await asyncio.gather(*(_move(api, account, version, key, m) for m in moves))


async def _page(api: Api, account: UUID, first: int, after: str | None) -> dict[str, Any]:
    variables = {"id": str(account), "first": first, "after": after}
    data = await api.data(SEATS, variables, auth=frontend_token(account))
    page: dict[str, Any] = data["account"]["seatHistory"]
    return page


def _moves(page: dict[str, Any]) -> list[Move]:
    return [(m["kind"], m["user"], m["held"], m["purchased"]) for m in page["moves"]]


async def _full(api: Api, account: UUID) -> list[Move]:
    found: list[Move] = []
    after = None
    while True:
        page = await _page(api, account, 100, after)
        found += _moves(page)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return found


def _check_replayed(history: list[Move]) -> None:
    """Oldest first, each move is the one before it plus itself: held moves by one with
    an assignment or release, a user's moves alternate from an assignment, held never
    passes the purchased count."""
    held = 0
    holding: dict[str, bool] = defaultdict(bool)
    for kind, user, after, purchased in reversed(history):
        if kind != "PURCHASED":
            assert user is not None and holding[user] == (kind == "RELEASED"), history
            holding[user] = kind == "ASSIGNED"
        held += {"ASSIGNED": 1, "RELEASED": -1, "PURCHASED": 0}[kind]
        assert after == held, history
        assert held >= 0 and (purchased is None or held <= purchased), history


async def _account(conn: asyncpg.Connection) -> UUID:
    version = await conn.fetchval("select min(id) from tier_versions")
    if version is None:
        version = (await factories.catalog(conn))["versions"]["basic"]
    return await factories.account(conn, version)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(_BATCH, min_size=1, max_size=4),
    steps=st.lists(st.tuples(st.integers(1, 4), _BATCH), min_size=8, max_size=8),
)
async def test_a_walk_gives_the_history_of_its_first_page_while_moves_are_made(
    conn: asyncpg.Connection,
    api: Api,
    clock: FixedClock,
    before: list[Any],
    steps: list[tuple[int, Any]],
) -> None:
    """Moves before the walk, then one batch before each page after the first (the steps
    drawn up front: which moves are refused depends on how the concurrent ones ran)."""
    account, key = await _account(conn), await api_key(conn)
    for batch in before:
        await _batch(api, conn, clock, account, key, batch)

    page = await _page(api, account, steps[0][0], None)
    at_start = await _full(api, account)
    walked = _moves(page)
    step = 0
    while page["pageInfo"]["hasNextPage"]:
        step += 1
        size, batch = steps[step % len(steps)]
        await _batch(api, conn, clock, account, key, batch)
        page = await _page(api, account, size, page["pageInfo"]["endCursor"])
        walked += _moves(page)
    await _batch(api, conn, clock, account, key, steps[0][1])
    final = await _full(api, account)

    _check_replayed(final)
    assert final[len(final) - len(at_start) :] == at_start  # no later move shifts one
    assert walked == at_start


async def test_a_user_assigned_released_and_assigned_again_in_one_instant_holds_in_that_order(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account, key = await _account(conn), await api_key(conn)
    for move in (("assign", "ada"), ("release", "ada"), ("assign", "ada")):
        await _batch(api, conn, clock, account, key, (0, [move]))

    assert await _full(api, account) == [
        ("ASSIGNED", "ada", 1, None),
        ("RELEASED", "ada", 0, None),
        ("ASSIGNED", "ada", 1, None),
    ]


async def test_a_move_stamped_before_the_others_neither_hides_nor_shifts_a_walks_next_one(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    """A replica whose clock is behind stamps its move before the others: the move still
    comes after every one made before it, and a walk in progress goes on where it was."""
    account, key = await _account(conn), await api_key(conn)
    await _batch(api, conn, clock, account, key, (1, [("assign", "ada")]))
    await _batch(api, conn, clock, account, key, (2, [("assign", "bob")]))
    page = await _page(api, account, 1, None)
    await _batch(api, conn, clock, account, key, (0, [("assign", "cy")]))
    rest = await _page(api, account, 5, page["pageInfo"]["endCursor"])

    assert _moves(page) == [("ASSIGNED", "bob", 2, None)]
    assert _moves(rest) == [("ASSIGNED", "ada", 1, None)]
    assert await _full(api, account) == [("ASSIGNED", "cy", 3, None), *_moves(page), *_moves(rest)]
