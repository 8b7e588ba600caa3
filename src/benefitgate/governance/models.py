"""The customer's governance view: its changes with who made them, as a customer may see
them, and its seat allocation over time; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from benefitgate.audit.models import AuditEntry

__all__ = ["Actor", "KeyHolder", "SeatMove", "TrailEntry", "VendorName"]


@dataclass(frozen=True, slots=True)
class VendorName:
    """How customers see the vendor's own staff and tools in their audit trail (the
    process-wide setting `BENEFITGATE_VENDOR_NAME`)."""

    name: str


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who holds an API key, as far as a customer may know: its role, and for a partner's
    key the partner's name."""

    role: str  # operator, admin or partner
    partner_name: str | None


@dataclass(frozen=True, slots=True)
class Actor:
    role: str  # vendor_operator, vendor_admin, partner, user or system
    name: str  # the vendor's display name, the partner's name, the user, or the job


@dataclass(frozen=True, slots=True)
class TrailEntry:
    entry: AuditEntry
    actor: Actor


@dataclass(frozen=True, slots=True)
class SeatMove:
    """One change of the account's seat allocation, with the allocation after it."""

    number: int  # its audit entry's id: greater for every later move, never changed; the cursor
    at: datetime
    kind: str  # assigned, released or purchased
    user_ref: str | None  # for assigned and released
    held: int  # seats held after it
    purchased: int | None  # seats purchased after it; None before any recorded count
