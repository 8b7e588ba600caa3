"""Seats held by named users of an account; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

__all__ = ["MAX_USER_REF", "SeatAssignment"]

MAX_USER_REF = 200


@dataclass(frozen=True, slots=True)
class SeatAssignment:
    account_id: UUID
    user_ref: str  # the vendor's own id or e-mail of the user
    assigned_at: datetime
    last_active_at: datetime | None
