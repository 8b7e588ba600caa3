"""Credits: lots (a credit benefit's grants), draws from them, and the ledger and balance
they make; frozen, no I/O. Amounts are Decimals, as Postgres stores them, so sums of
draws never drift from the lots they empty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

__all__ = ["Credit", "CreditShort", "Draw", "LedgerEntry", "Lot", "Spent"]


@dataclass(frozen=True, slots=True)
class Lot:
    """A grant of a credit benefit: `amount` in at `valid_from`, usable until `ends_at`
    (its end or revocation, whichever is first; None: never ends)."""

    grant_id: UUID
    account_id: UUID
    benefit_key: str
    amount: Decimal
    valid_from: datetime
    ends_at: datetime | None
    drawn: Decimal  # by every draw from it so far

    @property
    def left(self) -> Decimal:
        """What is left (nothing, when an update lowered the amount below what was drawn)."""
        return max(Decimal(0), self.amount - self.drawn)

    def active(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.ends_at is None or now < self.ends_at)


@dataclass(frozen=True, slots=True)
class Draw:
    account_id: UUID
    grant_id: UUID
    metric_key: str
    amount: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    at: datetime
    kind: str  # granted, consumed or expired
    amount: Decimal  # signed: in positive, out negative
    grant_id: UUID
    metric_key: str | None  # for consumption: the metric it was recorded as


@dataclass(frozen=True, slots=True)
class Credit:
    """One credit benefit of an account."""

    benefit_key: str
    balance: Decimal  # left in the lots in force now
    expires_at: datetime | None  # when part of the balance next expires; None: never
    ledger: list[LedgerEntry]  # newest first


@dataclass(frozen=True, slots=True)
class Spent:
    """A consumption: what it drew from which lots, and the balance after it."""

    metric_key: str
    amount: Decimal
    draws: list[tuple[UUID, Decimal, datetime | None]]  # (grant, amount, the lot's end)
    balance: Decimal


@dataclass(frozen=True, slots=True)
class CreditShort:
    """Refused: the credits measured by the metric hold less than requested."""

    metric_key: str
    requested: Decimal
    balance: Decimal
