"""GraphQL types of seat allocation and seat changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from benefitgate.seats.models import SeatAssignment

__all__ = [
    "SeatActivityRecorded",
    "SeatAllocation",
    "SeatChanged",
    "SeatHolder",
    "SeatsPurchased",
    "allocation",
]


@strawberry.type
class SeatHolder:
    user: str
    assigned_at: datetime
    last_active_at: datetime | None


@strawberry.type(description="The account's purchased seats and who holds them.")
class SeatAllocation:
    purchased: int
    assigned: int
    free: int
    holders: list[SeatHolder] = strawberry.field(description="By user.")


@strawberry.type
class SeatChanged:
    user: str
    held: bool = strawberry.field(description="Whether the user holds a seat after the change.")
    audit_entry_id: strawberry.ID
    replayed: bool


@strawberry.type
class SeatActivityRecorded:
    marked: int = strawberry.field(description="Seats marked active; users without one count 0.")


def allocation(purchased: int, held: Sequence[SeatAssignment]) -> SeatAllocation:
    return SeatAllocation(
        purchased=purchased,
        assigned=len(held),
        free=max(purchased - len(held), 0),
        holders=[
            SeatHolder(user=s.user_ref, assigned_at=s.assigned_at, last_active_at=s.last_active_at)
            for s in held
        ],
    )


@strawberry.type(description="The purchased seats as set, and the seats assigned now.")
class SeatsPurchased:
    purchased: int
    assigned: int
    audit_entry_id: strawberry.ID
    replayed: bool
