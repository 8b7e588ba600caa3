"""The factors of an account's health, each scored 0 (worst) to 100, and the score: their
mean weighted by WEIGHTS over the factors that apply to the account. Pure.

- `usage_trend` (always): per metric used in the last 60 days, its last 30 days' usage
  over the 30 days before (at most 1; 1 for a metric new in the last 30), averaged; 0 with
  no usage at all.
- `target_pace` (a measured outcome target is in force): per target, its attainment over
  the share of its days gone (at most 1), averaged.
- `benefit_adoption` (a benefit held 60 days or more has measured use): the share of those
  used in the last 60 days.
- `seat_use` (seats are purchased): seats held over 80 % of those purchased (at most 1).
- `denials` (always): 100 less 20 per feature denied in the last 30 days (at least 0).
- `cancellation` (the subscription is set to cancel at its period's end): 0.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from benefitgate.health.models import Factor, Health, Signals

__all__ = ["WEIGHTS", "health_of"]

WEIGHTS = {
    "usage_trend": 30,
    "target_pace": 25,
    "benefit_adoption": 20,
    "cancellation": 20,
    "seat_use": 15,
    "denials": 10,
}
SEAT_TARGET = 0.8  # seat use counted as fully healthy from this share on


def _score(share: float) -> int:
    return round(100 * min(1.0, max(0.0, share)))


def usage_trend(s: Signals) -> Factor | None:
    used = {m: v for m, v in s.usage.items() if v[0] > 0 or v[1] > 0}
    if not used:
        return Factor("usage_trend", 0, WEIGHTS["usage_trend"], "no usage in the last 60 days")
    ratios = [1.0 if before == 0 else last / before for before, last in used.values()]
    score = _score(sum(min(1.0, r) for r in ratios) / len(ratios))
    falling = sorted(m for m, (before, last) in used.items() if last < before)
    detail = (
        f"usage fell over the last 30 days: {', '.join(falling)}"
        if falling
        else "usage held or grew over the last 30 days"
    )
    return Factor("usage_trend", score, WEIGHTS["usage_trend"], detail)


def target_pace(s: Signals) -> Factor | None:
    if not s.targets:
        return None
    paces = [min(1.0, t.percent / 100 / t.elapsed) if t.elapsed > 0 else 1.0 for t in s.targets]
    behind = sorted(t.outcome_key for t, p in zip(s.targets, paces, strict=True) if p < 1)
    detail = f"behind pace: {', '.join(behind)}" if behind else "every target on pace"
    return Factor("target_pace", _score(sum(paces) / len(paces)), WEIGHTS["target_pace"], detail)


def benefit_adoption(s: Signals) -> Factor | None:
    if s.benefits_measured == 0:
        return None
    used = s.benefits_measured - s.benefits_unused
    detail = f"{s.benefits_unused} of {s.benefits_measured} benefits unused for 60 days"
    score = _score(used / s.benefits_measured)
    return Factor("benefit_adoption", score, WEIGHTS["benefit_adoption"], detail)


def seat_use(s: Signals) -> Factor | None:
    if s.seats_purchased <= 0:
        return None
    detail = f"{s.seats_held} of {s.seats_purchased} seats assigned"
    score = _score(s.seats_held / s.seats_purchased / SEAT_TARGET)
    return Factor("seat_use", score, WEIGHTS["seat_use"], detail)


def denials(s: Signals) -> Factor | None:
    detail = f"{s.denied_features} features denied in the last 30 days"
    score = max(0, 100 - 20 * s.denied_features)
    return Factor("denials", score, WEIGHTS["denials"], detail)


def cancellation(s: Signals) -> Factor | None:
    if not s.cancel_scheduled:
        return None
    detail = "set to cancel at the end of its period"
    return Factor("cancellation", 0, WEIGHTS["cancellation"], detail)


FACTORS: tuple[Callable[[Signals], Factor | None], ...] = (
    usage_trend,
    target_pace,
    benefit_adoption,
    seat_use,
    denials,
    cancellation,
)


def health_of(account_id: UUID, s: Signals) -> Health:
    """The account's health: the factors that apply, most harmful first (weight times
    shortfall), and their weighted mean."""
    found = [f for make in FACTORS if (f := make(s)) is not None]
    found.sort(key=lambda f: (-(f.weight * (100 - f.score)), f.key))
    total = sum(f.weight for f in found)
    score = round(sum(f.weight * f.score for f in found) / total)
    return Health(account_id, score, found)
