"""`remaining` and `percent` of a usage row at the edges: a zero or tiny limit, a gauge
below zero, an overrun. Pure: the row is built as the view builds it."""

from __future__ import annotations

import pytest

from benefitgate.catalog.models import Metric
from benefitgate.common.quantities import MAX_PERCENT
from benefitgate.views.models import MetricUsage
from tests.fixtures.factories import NOW


def row(used: float, limit: float | None, aggregation: str = "sum") -> MetricUsage:
    metric = Metric("m0", "M0", "calls", aggregation, "billing_period")
    return MetricUsage(metric, NOW, None, used, "soft", limit, None)


@pytest.mark.parametrize(
    ("used", "limit", "remaining", "percent"),
    [
        (0, 0, 0.0, 0.0),
        (5, 0, 0.0, MAX_PERCENT),  # any use of a zero limit: an overrun past every share
        (5, 1e-12, 0.0, 5e14),
        (5, 5e-324, 0.0, MAX_PERCENT),
        (40, 100, 60.0, 40.0),
        (150, 100, 0.0, 150.0),  # a soft limit's overrun, in proportion
        (0, 50, 50.0, 0.0),
        (None, None, None, None),
    ],
)
def test_remaining_and_percent_against_a_limit(
    used: float | None, limit: float | None, remaining: float | None, percent: float | None
) -> None:
    usage = row(used or 0.0, limit)

    assert (usage.remaining, usage.percent) == (remaining, percent)


def test_a_gauge_below_zero_leaves_the_whole_limit_and_uses_none_of_it() -> None:
    usage = row(-1e15, 50, "latest")

    assert (usage.remaining, usage.percent) == (50.0, 0.0)


def test_nothing_remains_of_a_zero_limit_whatever_the_gauge() -> None:
    assert (row(-3, 0, "latest").remaining, row(-3, 0, "latest").percent) == (0.0, 0.0)
