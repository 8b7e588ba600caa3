"""Which billing period holds an instant (`usage.periods.period_at`): the one renewals made,
for any start, term and instant, however far from the current period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.subscriptions.lifecycle import period_end_after
from benefitgate.usage.periods import Period, period_at

# Starts on any day, the month ends (29th to 31st) often: where stepping can go wrong.
_STARTS = st.builds(
    lambda year, month, day, minute: (
        datetime(year, month, 1, tzinfo=UTC) + timedelta(days=day - 1, minutes=minute)
    ),
    st.integers(2020, 2030),
    st.integers(1, 12),
    st.one_of(st.integers(1, 31), st.integers(28, 31)),
    st.integers(0, 24 * 60 - 1),
)


def _renewals(started_at: datetime, term: str, count: int) -> list[Period]:
    """The periods the subscription's renewals make, one after another."""
    periods = [Period(started_at, period_end_after(started_at, term, started_at))]
    while len(periods) < count:
        start = periods[-1].end
        assert start is not None
        periods.append(Period(start, period_end_after(start, term, started_at)))
    return periods


@given(
    started_at=_STARTS,
    term=st.sampled_from(["monthly", "annual"]),
    current=st.integers(0, 23),
    offset=st.integers(0, 2**62),
)
def test_the_period_of_an_instant_is_the_one_renewals_made(
    started_at: datetime, term: str, current: int, offset: int
) -> None:
    periods = _renewals(started_at, term, 24)
    first, last = periods[0].start, periods[-1].end
    assert last is not None
    span = (last - first) // timedelta(microseconds=1)
    at = first + timedelta(microseconds=offset % span)  # anywhere in the 24 periods

    found = period_at("billing_period", periods[current], term, at, started_at)

    assert found == next(p for p in periods if p.start <= at < p.end)  # type: ignore[operator]


def test_a_subscription_started_on_the_31st_had_a_period_from_the_31st() -> None:
    started_at = datetime(2026, 1, 31, 10, tzinfo=UTC)
    current = Period(datetime(2026, 2, 28, 10, tzinfo=UTC), datetime(2026, 3, 31, 10, tzinfo=UTC))

    found = period_at(
        "billing_period", current, "monthly", datetime(2026, 2, 1, tzinfo=UTC), started_at
    )

    assert found == Period(started_at, current.start)
