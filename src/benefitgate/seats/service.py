"""Seat use cases: assign and release within the purchased count, report activity, and
restore a seat's state for a rollback. Each change writes its audit entry and a
`seats.changed` event in the caller's transaction; activity, no change of entitlement,
touches its account (`events.touch`) so that cached views show the new time.

Exactness: every change locks the account's subscription row first, so concurrent
assignments queue and the count of held seats never passes the purchased count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, InvalidChange, SeatsExhausted, TargetNotFound
from benefitgate.common.text import quoted, trimmed
from benefitgate.events import outbox as events
from benefitgate.events.touch import touch
from benefitgate.milestones import service as milestones
from benefitgate.seats import repository
from benefitgate.seats.models import MAX_USER_REF, SeatAssignment
from benefitgate.subscriptions import service as subscriptions

__all__ = [
    "assign_seat",
    "lock_seats",
    "record_activity",
    "release_seat",
    "restore_seat",
    "roll_back_seat",
    "seats_by_account",
    "target",
]

EVENT = "seats.changed"
KIND = "seat"


def target(account_id: UUID, user_ref: str) -> Target:
    return Target(KIND, f"{account_id}/{user_ref}", account_id)


def parse_target(target_id: str) -> tuple[UUID, str]:
    account, _, user_ref = target_id.partition("/")
    return UUID(account), user_ref


def _snapshot(seat: SeatAssignment | None) -> dict[str, Any] | None:
    if seat is None:
        return None
    return {"user": seat.user_ref, "assignedAt": seat.assigned_at.isoformat()}


def _check_user(user_ref: str) -> None:
    if not 0 < len(user_ref) <= MAX_USER_REF or user_ref != trimmed(user_ref):
        raise InvalidChange("user", f"give a user of 1 to {MAX_USER_REF} characters, trimmed")


async def lock_seats(
    conn: asyncpg.Connection, account_id: UUID, at: datetime, *, to_take: bool = False
) -> int:
    """Lock the account's seat allocation as it stands at `at`; returns the purchased
    count. A seat is taken (`to_take`) only on a subscription that is not canceled, as
    every other change of a subscription is refused then; a seat taken before may still
    be freed. The subscription is the one every answer shows (`subscriptions.lock_as_of`:
    the steps due by `at` written first): the stored row's status let a subscription
    whose end had come, shown canceled, give out seats until the scheduler wrote it."""
    try:
        sub = await subscriptions.lock_as_of(conn, account_id, at)
    except TargetNotFound:
        raise InvalidChange("accountId", "the account has no subscription, so no seats") from None
    if to_take and sub.status == "canceled":
        raise InvalidChange("accountId", "the subscription is canceled")
    return sub.seats


async def _record(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    account_id: UUID,
    user_ref: str,
    states: tuple[SeatAssignment | None, SeatAssignment | None],
    rollback_of: int | None = None,
) -> AuditEntry:
    before, after = _snapshot(states[0]), _snapshot(states[1])
    entry = await audit.record(
        conn, change, action, target(account_id, user_ref), before, after, rollback_of
    )
    await events.enqueue(
        conn,
        EVENT,
        account_id,
        {"action": action, "auditEntryId": entry.id, "user": user_ref, "held": after is not None},
    )
    return entry


async def _take(
    conn: asyncpg.Connection, account_id: UUID, user_ref: str, purchased: int, at: datetime
) -> tuple[SeatAssignment, int]:
    """The new assignment and how many seats are held with it."""
    assigned = await repository.open_count(conn, account_id)
    if assigned >= purchased:
        raise SeatsExhausted(purchased, assigned)
    return await repository.assign(conn, account_id, user_ref, at), assigned + 1


async def assign_seat(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    user_ref: str,
    catalog: Catalog,
) -> AuditEntry:
    """Give the user one of the account's purchased seats, and award the seat milestones
    that reaches. Raises InvalidChange (bad user, no subscription or a canceled one,
    already holds a seat) or SeatsExhausted."""
    _check_user(user_ref)
    purchased = await lock_seats(conn, account_id, change.at, to_take=True)
    if await repository.held(conn, account_id, user_ref) is not None:
        raise InvalidChange("user", f"{quoted(user_ref)} already holds a seat")
    seat, assigned = await _take(conn, account_id, user_ref, purchased, change.at)
    entry = await _record(conn, change, "seat.assigned", account_id, user_ref, (None, seat))
    await milestones.on_seats(conn, account_id, assigned, purchased, catalog, change.at)
    return entry


async def release_seat(
    conn: asyncpg.Connection, change: ChangeContext, account_id: UUID, user_ref: str
) -> AuditEntry:
    """Free the user's seat, whatever the subscription's status (freeing one on a canceled
    subscription grants nothing, and lets an operator clear its users). Raises
    TargetNotFound when the user holds none."""
    _check_user(user_ref)
    await lock_seats(conn, account_id, change.at)
    seat = await repository.held(conn, account_id, user_ref)
    if seat is None:
        raise TargetNotFound("seat")
    await repository.release(conn, account_id, user_ref, change.at)
    return await _record(conn, change, "seat.released", account_id, user_ref, (seat, None))


async def restore_seat(
    conn: asyncpg.Connection,
    change: ChangeContext,
    target_id: str,
    purchased: int,
    state: dict[str, Any] | None,
    rollback_of: int,
) -> AuditEntry:
    """Return a user's seat to a recorded state (held or not) as a new change, within the
    `purchased` count that the caller's `lock_seats` returned. Raises SeatsExhausted when
    the seat to give back is taken."""
    account_id, user_ref = parse_target(target_id)
    current = await repository.held(conn, account_id, user_ref)
    after = current
    if state is None and current is not None:
        await repository.release(conn, account_id, user_ref, change.at)
        after = None
    elif state is not None and current is None:
        after, _ = await _take(conn, account_id, user_ref, purchased, change.at)
    return await _record(
        conn, change, "rollback", account_id, user_ref, (current, after), rollback_of
    )


async def record_activity(
    conn: asyncpg.Connection, account_id: UUID, user_refs: Sequence[str], at: datetime
) -> int:
    """Mark the users' seats active at `at`; returns how many seats were marked. Activity
    is not an entitlement change, so it is neither audited nor sent as an event; the
    account is touched instead (`events.touch`), since its seats' view shows the time."""
    for user_ref in user_refs:
        _check_user(user_ref)
    marked = await repository.touch(conn, account_id, user_refs, at)
    if marked:
        await touch(conn, [account_id])
    return marked


async def seats_by_account(
    conn: asyncpg.Connection, account_ids: Sequence[UUID]
) -> dict[UUID, list[SeatAssignment]]:
    return await repository.open_assignments(conn, account_ids)


async def roll_back_seat(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of a seat's audit entry (see `audit.rollback`): giving a seat back is
    taking one, refused on a canceled subscription; taking one back is not."""
    account_id, _ = parse_target(entry.target.id)
    purchased = await lock_seats(conn, account_id, change.at, to_take=entry.before is not None)
    await refuse_if_changed_since(conn, entry)
    return await restore_seat(conn, change, entry.target.id, purchased, entry.before, entry.id)
