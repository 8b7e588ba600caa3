"""The range of a quantity a client gives: a usage value, an amount to consume or grant, a
limit, a target, a threshold.

Usage is summed in float8 and numeric, limits and grants in Python floats. Two finite
values near the float maximum (about 1.8e308) summed to infinity, which Postgres refused
as an overflow and GraphQL could not return. A bound far above any real quantity keeps
every sum of them finite: 10^15 events of 10^15 would still be far from the maximum.
"""

from __future__ import annotations

import math

__all__ = ["MAX_QUANTITY", "OUT_OF_RANGE", "figure", "in_range"]

MAX_QUANTITY = 1e15
OUT_OF_RANGE = "give a finite quantity of at most 10^15 either way"


def in_range(value: float) -> bool:
    """Whether `value` is finite and at most MAX_QUANTITY either side of zero."""
    return math.isfinite(value) and -MAX_QUANTITY <= value <= MAX_QUANTITY


def figure(value: float) -> str:
    """A quantity as a person reads it: thousands separated, at most two decimals, never an
    exponent (`1,859,990`, `20.5`, not `1.85999e+06`)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
