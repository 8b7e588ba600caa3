"""The end-of-period projection: run rate for cumulative metrics, nothing for gauges."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.usage.periods import Period
from benefitgate.usage.trend import project, reaches_limit
from tests.fixtures.factories import NOW

THIRTY_DAYS = Period(NOW - timedelta(days=10), NOW + timedelta(days=20))


def test_a_sum_projects_at_its_run_rate_and_dates_the_limit() -> None:
    projection = project("sum", 40, 100, THIRTY_DAYS, NOW)  # 4 a day
    assert projection is not None
    assert projection.value == 120
    assert projection.limit_reached_at == NOW + timedelta(days=15)


def test_no_limit_date_when_the_rate_stays_under_the_limit_this_period() -> None:
    projection = project("count", 20, 100, THIRTY_DAYS, NOW)  # 2 a day: 60 by the end
    assert projection is not None and projection.value == 60
    assert projection.limit_reached_at is None


def test_no_limit_date_when_unlimited_idle_or_already_reached() -> None:
    for used, limit in [(40, None), (0, 100), (100, 100), (150, 100)]:
        projection = project("sum", used, limit, THIRTY_DAYS, NOW)
        assert projection is not None and projection.limit_reached_at is None


def test_the_first_day_counts_as_a_whole_day() -> None:
    an_hour_in = Period(NOW - timedelta(hours=1), NOW + timedelta(days=30) - timedelta(hours=1))
    projection = project("sum", 10, None, an_hour_in, NOW)
    assert projection is not None
    assert projection.value == round(10 + 10 * (30 * 24 - 1) / 24, 2)


def test_gauges_and_metrics_that_never_reset_have_no_projection() -> None:
    assert project("max", 5, 10, THIRTY_DAYS, NOW) is None
    assert project("latest", 5, 10, THIRTY_DAYS, NOW) is None
    assert project("sum", 5, 10, Period(NOW - timedelta(days=400), None), NOW) is None


def test_past_the_period_end_the_projection_is_what_was_used() -> None:
    ended = Period(NOW - timedelta(days=30), NOW - timedelta(days=1))
    projection = project("sum", 50, 100, ended, NOW)
    assert projection is not None and projection.value == 50
    assert projection.limit_reached_at is None


def test_a_limit_centuries_away_at_a_slow_rate_is_no_date() -> None:
    # One unit in ten days against a limit of a trillion: past the last date there is.
    projection = project("sum", 1, 1e12, THIRTY_DAYS, NOW)
    assert projection is not None and projection.limit_reached_at is None


quantities = st.floats(min_value=0, max_value=1e15)


@given(quantities, quantities, st.integers(-40, 40), st.integers(1, 400))
def test_reaches_limit_says_what_the_projection_dates(
    used: float, limit: float, days_in: int, days_long: int
) -> None:
    period = Period(NOW - timedelta(days=days_in), NOW + timedelta(days=days_long - days_in))
    projection = project("sum", used, limit, period, NOW)
    assert projection is not None
    assert reaches_limit(used, limit, period, NOW) == (projection.limit_reached_at is not None)
