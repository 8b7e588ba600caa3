"""Peer benchmarks: where an account stands among its peers on one metric; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["Benchmark", "Benchmarks", "Standing"]


@dataclass(frozen=True, slots=True)
class Standing:
    """The account's value on a metric against its peers': how many peers there are, and
    how many have a lower and an equal value. Never leaves the service: only the
    percentile it gives, when enough peers exist, does."""

    metric_key: str
    peers: int
    below: int
    equal: int


@dataclass(frozen=True, slots=True)
class Benchmark:
    key: str  # a metric's or an outcome's
    percentile: int | None  # None: fewer peers than the threshold


@dataclass(frozen=True, slots=True)
class Benchmarks:
    month_start: date  # the calendar month compared
    metrics: list[Benchmark]
    outcomes: list[Benchmark]
