"""GraphQL types of the customer's governance view."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from benefitgate.api.pagination import PageInfo
from benefitgate.governance import models

__all__ = [
    "AccountChange",
    "AccountChangePage",
    "ChangeActor",
    "SeatHistoryPage",
    "SeatMove",
    "change_type",
    "seat_move_type",
]


@strawberry.enum(description="Who made a change, as the account's people may know it.")
class ActorRole(enum.Enum):
    VENDOR_OPERATOR = "vendor_operator"
    VENDOR_ADMIN = "vendor_admin"
    PARTNER = "partner"
    USER = "user"
    SYSTEM = "system"


@strawberry.type(description="Never an API key's id.")
class ChangeActor:
    role: ActorRole
    name: str = strawberry.field(
        description="The vendor's display name for its staff and tools, the partner's name, "
        "the account's user, or the job that made the change."
    )


@strawberry.type(description="A change to the account: who made it, what, why, before, after.")
class AccountChange:
    id: strawberry.ID
    at: datetime
    actor: ChangeActor
    action: str
    target_kind: str
    target_id: str
    before: JSON | None = strawberry.field(description="Null: the target did not exist.")
    after: JSON | None = strawberry.field(description="Null: the target no longer exists.")
    reason: str
    rollback_of: strawberry.ID | None = strawberry.field(
        description="The change this one rolled back."
    )


@strawberry.type
class AccountChangePage:
    changes: list[AccountChange] = strawberry.field(description="Newest first.")
    page_info: PageInfo


@strawberry.enum
class SeatMoveKind(enum.Enum):
    ASSIGNED = "assigned"
    RELEASED = "released"
    PURCHASED = "purchased"


@strawberry.type(description="One change of the seat allocation, and the allocation after it.")
class SeatMove:
    at: datetime
    kind: SeatMoveKind
    user: str | None = strawberry.field(description="Who got or gave up a seat.")
    held: int
    purchased: int | None = strawberry.field(
        description="Seats purchased from then on; null before a count was recorded."
    )


@strawberry.type
class SeatHistoryPage:
    moves: list[SeatMove] = strawberry.field(description="Newest first.")
    page_info: PageInfo


def _id(value: object) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


def change_type(t: models.TrailEntry) -> AccountChange:
    e = t.entry
    return AccountChange(
        id=strawberry.ID(str(e.id)),
        at=e.at,
        actor=ChangeActor(role=ActorRole(t.actor.role), name=t.actor.name),
        action=e.action,
        target_kind=e.target.kind,
        target_id=e.target.id,
        before=None if e.before is None else JSON(e.before),
        after=None if e.after is None else JSON(e.after),
        reason=e.reason,
        rollback_of=_id(e.rollback_of),
    )


def seat_move_type(m: models.SeatMove) -> SeatMove:
    return SeatMove(
        at=m.at,
        kind=SeatMoveKind(m.kind),
        user=m.user_ref,
        held=m.held,
        purchased=m.purchased,
    )
