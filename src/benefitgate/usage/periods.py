"""Which period a metric's counter covers at a given time.

`billing_period` follows the subscription's current period, `calendar_month` the UTC month,
and `never` has a single period starting at the epoch with no end. A billing period before
the current one is the one the subscription really had then (`Ended`, kept by the
subscriptions' history): its term may not be the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "EPOCH",
    "Ended",
    "Period",
    "add_months",
    "calendar_month",
    "current_period",
    "period_at",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Ended:
    """A billing period a subscription has ended, with the term it ran for."""

    start: datetime
    end: datetime
    term: str

    @property
    def period(self) -> Period:
        return Period(self.start, self.end)


def calendar_month(now: datetime) -> Period:
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def current_period(reset: str, billing: Period | None, now: datetime) -> Period:
    """The period of a metric with the given reset; an account without a subscription
    counts billing-period metrics per calendar month."""
    if reset == "never":
        return Period(EPOCH, None)
    if reset == "billing_period" and billing is not None:
        return billing
    return calendar_month(now)


def add_months(moment: datetime, months: int, day: int | None = None) -> datetime:
    """The same time `months` later (or earlier), on the same day of the month or on `day`
    when given, clamped to the month's last day; in UTC, whatever offset `moment` carries
    (the same instant steps the same way)."""
    moment = moment.astimezone(UTC)
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (next_first - datetime(year, month, 1, tzinfo=moment.tzinfo)).days
    return moment.replace(year=year, month=month, day=min(day or moment.day, last_day))


def period_at(
    reset: str,
    billing: Period | None,
    term: str | None,
    at: datetime,
    anchor: datetime | None = None,
    ended: Sequence[Ended] = (),
    next_term: str | None = None,
) -> Period:
    """The period of a metric that contains `at`, which may lie before the current one,
    or after it (an event dated a little ahead).

    A billing period before the current one is the one of `ended` (the periods the
    subscription ended, in any order) that contains `at`. Past those known, periods are
    found by stepping by the term (one month or one year) from the nearest period known
    after `at` (the current one when none ended), on the day of the month of `anchor`
    (the subscription's start; else that period's own day), clamped to shorter months:
    as renewals end periods, so that a subscription started on the 31st has a period from
    31 January to 28 February, not from the 28th. After the current period, the renewal
    starts one of `next_term` (a term change scheduled at its end), when given.
    """
    if reset != "billing_period" or billing is None or billing.end is None:
        return current_period(reset, None, at)
    if billing.start <= at < billing.end:  # most events: no stepping needed
        return billing
    if at >= billing.end and next_term is not None and next_term != term:
        months = 12 if next_term == "annual" else 1
        day = None if anchor is None else anchor.astimezone(UTC).day
        renewed_end = add_months(billing.end, months, day)
        renewed = Period(billing.end, renewed_end)
        return renewed if at < renewed_end else _stepped(renewed, next_term, at, anchor)
    if at < billing.start and ended:
        nearest = min((e for e in ended if at < e.end), key=lambda e: e.start, default=None)
        if nearest is not None:
            if nearest.start <= at:
                return nearest.period
            return _stepped(nearest.period, nearest.term, at, anchor)
    return _stepped(billing, term, at, anchor)


def _stepped(known: Period, term: str | None, at: datetime, anchor: datetime | None) -> Period:
    """The period containing `at`, stepping by `term` from the `known` one."""
    assert known.end is not None
    step = 12 if term == "annual" else 1
    day = None if anchor is None else anchor.astimezone(UTC).day
    start, end = known.start, known.end

    def boundary(shift: int) -> datetime:
        """Where the period `shift` terms from the known one starts."""
        if shift == 0:
            return start
        if shift == 1:
            return end
        return add_months(start, shift * step, day)

    shift = 0
    while at < boundary(shift):
        shift -= 1
    while at >= boundary(shift + 1):
        shift += 1
    return Period(boundary(shift), boundary(shift + 1))
