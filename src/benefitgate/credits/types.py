"""GraphQL types of credits."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import strawberry

from benefitgate.api.errors import Error, ErrorCode
from benefitgate.catalog.types import Benefit, CatalogTypes, Metric
from benefitgate.credits import models

__all__ = [
    "AccountCredit",
    "CreditConsumed",
    "CreditsExhaustedError",
    "consumed_type",
    "credit_type",
    "exhausted_type",
]


@strawberry.enum
class CreditEntryKind(enum.Enum):
    GRANTED = "granted"
    CONSUMED = "consumed"
    EXPIRED = "expired"


@strawberry.type(description="One movement of a credit: in (granted), or out (used, expired).")
class CreditLedgerEntry:
    at: datetime
    kind: CreditEntryKind
    amount: float = strawberry.field(description="In positive, out negative.")
    grant_id: strawberry.ID = strawberry.field(description="The grant (lot) it moved.")
    metric: str | None = strawberry.field(description="What a consumption was recorded as.")


@strawberry.type(description="A credit benefit of the account: what is left and its history.")
class AccountCredit:
    benefit: Benefit
    metric: Metric | None = strawberry.field(
        description="The metric the credit is consumed through; null: not consumed here."
    )
    balance: float = strawberry.field(description="Left in the grants in force now.")
    expires_at: datetime | None = strawberry.field(
        description="When part of the balance next expires; null: none of it does."
    )
    ledger: list[CreditLedgerEntry] = strawberry.field(
        description="Newest first: every grant, the newest 100 consumptions, and what was "
        "left of each grant when it ended."
    )


@strawberry.type
class CreditDraw:
    grant_id: strawberry.ID
    amount: float
    expires_at: datetime | None


@strawberry.type(description="Credits consumed, soonest-expiring first.")
class CreditConsumed:
    metric: str
    amount: float
    draws: list[CreditDraw]
    balance: float = strawberry.field(description="Left after this consumption.")
    replayed: bool


@strawberry.type(description="The credits hold less than requested; nothing was consumed.")
class CreditsExhaustedError(Error):
    metric: str
    requested: float
    balance: float
    replayed: bool


def credit_type(c: models.Credit, types: CatalogTypes) -> AccountCredit:
    benefit = types.benefits[c.benefit_key]
    return AccountCredit(
        benefit=benefit,
        metric=benefit.metric,
        balance=float(c.balance),
        expires_at=c.expires_at,
        ledger=[
            CreditLedgerEntry(
                at=e.at,
                kind=CreditEntryKind(e.kind),
                amount=float(e.amount),
                grant_id=strawberry.ID(str(e.grant_id)),
                metric=e.metric_key,
            )
            for e in c.ledger
        ],
    )


def consumed_type(s: models.Spent, replayed: bool) -> CreditConsumed:
    return CreditConsumed(
        metric=s.metric_key,
        amount=float(s.amount),
        draws=[
            CreditDraw(grant_id=strawberry.ID(str(g)), amount=float(a), expires_at=e)
            for g, a, e in s.draws
        ],
        balance=float(s.balance),
        replayed=replayed,
    )


def exhausted_type(short: models.CreditShort, replayed: bool) -> CreditsExhaustedError:
    return CreditsExhaustedError(
        code=ErrorCode.CREDITS_EXHAUSTED,
        message=f"{short.metric_key}: {_amount(short.balance)} credits left, "
        f"{_amount(short.requested)} requested",
        metric=short.metric_key,
        requested=float(short.requested),
        balance=float(short.balance),
        replayed=replayed,
    )


def _amount(value: Decimal) -> str:
    """An amount as a person reads it, to 15 significant digits (what a float holds of any
    decimal). Balances are numeric sums whose scale grows with the amounts drawn: `{:f}`
    wrote "0.4000000000000000000000000000", and hundreds of digits after a draw of 5e-324."""
    return f"{float(value):,.15g}"
