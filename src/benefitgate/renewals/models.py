"""A renewal note: what a reminder tells the customer about the term ending; frozen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benefitgate.adoption.models import BenefitAdoption
from benefitgate.impact.models import ImpactSummary
from benefitgate.suggestions.models import Suggestion

__all__ = ["Money", "RenewalNote"]


@dataclass(frozen=True, slots=True)
class Money:
    cents: int
    currency: str

    def __str__(self) -> str:
        return f"{self.cents / 100:,.2f} {self.currency}"

    def json(self) -> dict[str, Any]:
        return {"amountCents": self.cents, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class RenewalNote:
    """The term so far (its impact summary and the benefits held) and the renewal ahead."""

    account_name: str
    renews_at: datetime
    days_left: int
    tier_name: str  # just before the renewal (a trial ending first has ended)
    next_tier_name: str  # from the renewal on
    price: Money  # per term, until the renewal (during a trial, its fallback's)
    next_price: Money  # per term, from the renewal on
    term: str  # from the renewal on
    summary: ImpactSummary  # the term so far
    used: tuple[BenefitAdoption, ...]  # measured and used this term
    unused: tuple[BenefitAdoption, ...]  # measured, held all term, never used in it
    changes: tuple[str, ...]  # what is new or changing at the renewal, one line each
    suggestion: Suggestion | None  # the open one
    tier_names: dict[str, str]  # tier key: name, for the suggestion's tier
