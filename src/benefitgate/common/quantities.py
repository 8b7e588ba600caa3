"""The range of a quantity a client gives: a usage value, an amount to consume or grant, a
limit, a target, a threshold.

Usage is summed in float8 and numeric, limits and grants in Python floats. Two finite
values near the float maximum (about 1.8e308) summed to infinity, which Postgres refused
as an overflow and GraphQL could not return. A bound far above any real quantity keeps
every sum of them finite: 10^15 events of 10^15 would still be far from the maximum.
At the other end, a limit or target of 5e-324 made every share of it infinite ("inf%" in
a suggestion); a bound far below any real quantity keeps every share of two quantities
finite (at most 10^29 %). The lower bound holds for what a share is taken of (limits,
grants, targets, thresholds), not for usage values and amounts consumed, which are only
ever shares' numerators: a float's rounding noise (0.1 + 0.2 - 0.3) counts as about 0.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal

__all__ = [
    "CREDIT_AMOUNT",
    "CREDIT_PLACES",
    "MAX_PERCENT",
    "MAX_QUANTITY",
    "MIN_QUANTITY",
    "NON_NEGATIVE",
    "OUT_OF_RANGE",
    "USAGE_RANGE",
    "WHOLE",
    "credit_amount",
    "figure",
    "in_range",
    "is_usage",
    "is_whole",
    "limit_percent",
    "limit_remaining",
    "non_negative",
    "percent_of",
]

MAX_QUANTITY = 1e15
MIN_QUANTITY = 1e-12
# The share `percent_of` answers when the true one is too large for a float: the largest
# float, which GraphQL's Float carries (infinity it refuses, as an error of the field).
MAX_PERCENT = sys.float_info.max
OUT_OF_RANGE = "give 0 or a finite quantity from 10^-12 to 10^15 either way"
USAGE_RANGE = "give a finite value of at most 10^15 either way"
NON_NEGATIVE = "0, or from 10^-12 to 10^15"
# Credits are counted to a millionth: a lot of 1e-300 or a draw of 0.1 + 0.2 (0.30000000000000004)
# was taken as given, a balance no one can spend to zero, and draws the metric's float8
# usage counters cannot tell from nothing beside real amounts.
# A quantity of a metric that counts (events, distinct values): its counters move by whole
# steps, so a fraction of a limit, target or threshold meant only the next whole number.
WHOLE = "its metric counts whole events or values: give a whole number"
CREDIT_PLACES = 6
CREDIT_AMOUNT = f"give a positive amount of at most 10^15, in at most {CREDIT_PLACES} decimals"


def in_range(value: float) -> bool:
    """Whether `value` is 0, or finite and from MIN_QUANTITY to MAX_QUANTITY either side
    of zero."""
    size = abs(value)
    return value == 0 or MIN_QUANTITY <= size <= MAX_QUANTITY


def is_usage(value: float) -> bool:
    """Whether `value` is finite and at most MAX_QUANTITY either side of zero (a usage
    value or an amount consumed: any size nearer 0 is taken)."""
    return math.isfinite(value) and -MAX_QUANTITY <= value <= MAX_QUANTITY


def non_negative(value: float) -> bool:
    """Whether `value` is 0, or from MIN_QUANTITY to MAX_QUANTITY."""
    return value >= 0 and in_range(value)


def is_whole(value: float) -> bool:
    """Whether `value` is a whole number (finite: NaN and infinities are not)."""
    return math.isfinite(value) and value.is_integer()


def credit_amount(value: float) -> Decimal | None:
    """`value` as an amount of credit (granted or consumed), exactly as written in its
    shortest form; None unless it is positive, at most MAX_QUANTITY and in at most
    CREDIT_PLACES decimal places (zero, negatives, NaN and infinities are not)."""
    if not (value > 0 and in_range(value)):
        return None
    amount = Decimal(repr(value))
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    return amount if exponent >= -CREDIT_PLACES else None


def percent_of(part: float, whole: float, places: int = 2) -> float:
    """`part` over `whole` (not zero) in percent, rounded to `places`. A share too large for
    a float (a limit or a target of 5e-324 against any real use) answers MAX_PERCENT,
    with its sign: every percent a view shows is finite, as GraphQL's Float must be."""
    share = part / whole * 100
    if math.isinf(share):
        return math.copysign(MAX_PERCENT, share)
    return round(share, places)


def limit_percent(used: float, limit: float | None) -> float | None:
    """The share of a limit used, in percent, as every view of usage against a limit shows
    it: None when unlimited; 0 when nothing is used (or less: a `latest` gauge below zero
    uses none of it); above 100 for an overrun, in proportion; any use of a zero limit is
    MAX_PERCENT, an overrun past every finite share, as against a limit of 5e-324 (not
    100: that reads as just at the limit, while a limit of 1e-12 reads as 5e14)."""
    if limit is None:
        return None
    if used <= 0:
        return 0.0
    if limit == 0:
        return MAX_PERCENT
    return percent_of(used, limit)


def limit_remaining(used: float, limit: float | None) -> float | None:
    """What is left of a limit: None when unlimited, else between 0 (at or over it) and
    the limit itself (nothing used, or a gauge below zero)."""
    return None if limit is None else min(max(limit - used, 0.0), limit)


def figure(value: float) -> str:
    """A quantity as a person reads it: thousands separated, at most two decimals, never an
    exponent (`1,859,990`, `20.5`, not `1.85999e+06`)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
