"""Tier changes priced for the rest of the period. Pure, no I/O.

Policy: an upgrade takes effect now and costs the price difference for the account's term
times the unused share of the current period; a downgrade takes effect at the end of the
period (the customer keeps what they paid for) and costs nothing now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from benefitgate.catalog.models import TierVersion
from benefitgate.common.changes import InvalidChange
from benefitgate.common.text import quoted

__all__ = ["TierChangePlan", "plan_tier_change", "price_cents"]

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class TierChangePlan:
    target: TierVersion
    upgrade: bool
    effective_at: datetime
    amount_due_cents: int  # due now; zero for a downgrade
    new_price_cents: int  # per term, from the change on
    currency: str


def price_cents(version: TierVersion, term: str) -> int:
    return version.monthly_price_cents if term == "monthly" else version.annual_price_cents


def _unused_share(start: datetime, end: datetime, now: datetime) -> Fraction:
    left = min(max(end - now, timedelta(0)), end - start)
    return Fraction(left // _TICK, (end - start) // _TICK)


def _half_up(value: Fraction) -> int:
    return int((2 * value + 1) // 2)


def plan_tier_change(
    current: TierVersion,
    target: TierVersion,
    term: str,
    period: tuple[datetime, datetime],
    now: datetime,
) -> TierChangePlan:
    """Raises InvalidChange for the tier the account is on or another currency."""
    if target.tier_key == current.tier_key:
        raise InvalidChange("tier", f"the account is already on {quoted(target.tier_key)}")
    if target.currency != current.currency:
        raise InvalidChange("tier", f"{quoted(target.tier_key)} is priced in {target.currency}")
    upgrade = target.rank > current.rank
    delta = price_cents(target, term) - price_cents(current, term)
    due = _half_up(max(delta, 0) * _unused_share(*period, now)) if upgrade else 0
    return TierChangePlan(
        target=target,
        upgrade=upgrade,
        effective_at=now if upgrade else period[1],
        amount_due_cents=due,
        new_price_cents=price_cents(target, term),
        currency=target.currency,
    )
