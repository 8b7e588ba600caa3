"""Attainment of an outcome target, whichever way the outcome should move."""

from __future__ import annotations

from benefitgate.common.quantities import percent_of

__all__ = ["attainment"]


def attainment(direction: str, target: float, actual: float | None) -> tuple[float | None, bool]:
    """(percent, met) of `actual` against `target`.

    For an outcome to increase, percent is actual over target. For one to decrease (days to
    insight, hours of audit preparation), reaching the target means getting down to it, so
    percent is target over actual: 10 days against a target of 5 is 50 %. A share too
    large for a float is `common.quantities.MAX_PERCENT`.
    """
    if actual is None:
        return None, False
    if direction == "increase":
        return (100.0 if target == 0 else percent_of(actual, target)), actual >= target
    return (100.0 if actual == 0 else percent_of(target, actual)), actual <= target
