"""Which billing period holds an instant (`usage.periods.period_at`): the one renewals made,
for any start, term and instant, however far from the current period."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from random import Random
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from benefitgate.accounts.models import Account, Subscription
from benefitgate.subscriptions.lifecycle import period_end_after
from benefitgate.usage.periods import Ended, Period, period_at

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


_SUBSCRIPTION = Subscription(
    id=uuid4(), tier_version_id=1, term="monthly", seats=1, status="active",
    current_period_start=datetime(2026, 1, 1, tzinfo=UTC),
    current_period_end=datetime(2026, 2, 1, tzinfo=UTC), renewal_date=date(2026, 2, 1),
    scheduled_tier_version_id=None, scheduled_change_at=None,
    started_at=datetime(2026, 1, 1, tzinfo=UTC), version=1, scheduled_term=None,
    trial_ends_at=None, trial_fallback_tier_version_id=None, trial_converts=False,
)  # fmt: skip


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


@given(
    started_at=_STARTS,
    terms=st.lists(st.sampled_from(["monthly", "annual"]), min_size=1, max_size=12),
    written=st.integers(0, 12),
    order=st.randoms(use_true_random=False),
    offset=st.integers(0, 2**62),
)
def test_the_period_of_an_instant_is_the_one_its_renewals_made_whatever_their_terms(
    started_at: datetime, terms: list[str], written: int, order: Random, offset: int
) -> None:
    """Each renewal may change the term: an earlier period is the one the subscription
    ended, whether the history holds it (renewals written, read in any order) or the
    subscription passed it on the way to its state now (`timeline.as_of`)."""
    periods = [Ended(started_at, period_end_after(started_at, terms[0], started_at), terms[0])]
    for term in terms[1:]:
        start = periods[-1].end
        periods.append(Ended(start, period_end_after(start, term, started_at), term))
    *ended, current = periods
    history, passed = ended[:written], ended[written:]
    order.shuffle(history)
    sub = replace(_SUBSCRIPTION, term=current.term, started_at=started_at,
                  current_period_start=current.start, current_period_end=current.end,
                  ended=(*history, *passed))  # fmt: skip
    account = Account(uuid4(), "A", started_at, None, 1, (), sub)
    span = (current.end - started_at) // timedelta(microseconds=1)
    at = started_at + timedelta(microseconds=offset % span)

    found = account.period_at("billing_period", at)

    assert found == next(p.period for p in periods if p.start <= at < p.end)
    assert account.knows_period_at("billing_period", at)


@given(
    started_at=_STARTS,
    term=st.sampled_from(["monthly", "annual"]),
    scheduled=st.sampled_from([None, "monthly", "annual"]),
    ends=st.booleans(),
    offset=st.integers(0, 2**62),
)
def test_an_instant_after_the_period_is_in_the_one_its_renewal_starts(
    started_at: datetime, term: str, scheduled: str | None, ends: bool, offset: int
) -> None:
    """An event dated a little ahead may fall past the period's end: in the period the
    renewal starts, of the term scheduled (a subscription set to end keeps its last term,
    as stepping always gave it)."""
    current = _renewals(started_at, term, 1)[0]
    assert current.end is not None
    next_term = term if ends or scheduled is None else scheduled
    renewed = Period(current.end, period_end_after(current.end, next_term, started_at))
    sub = replace(_SUBSCRIPTION, term=term, started_at=started_at, scheduled_term=scheduled,
                  current_period_start=current.start, current_period_end=current.end,
                  cancel_at_period_end=ends)  # fmt: skip
    account = Account(uuid4(), "A", started_at, None, 1, (), sub)
    assert renewed.end is not None
    span = (renewed.end - current.end) // timedelta(microseconds=1)
    at = current.end + timedelta(microseconds=offset % span)

    assert account.period_at("billing_period", at) == renewed
