"""The periods impact reports cover: calendar-aligned runs of `months` months (a quarter
by default), UTC dates. Pure."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from benefitgate.impact.models import DayRange

__all__ = ["CADENCES", "closed", "period_of"]

CADENCES = (1, 2, 3, 4, 6, 12)  # months that divide a year: periods align to January


def period_of(day: date, months: int) -> DayRange:
    """The period containing `day`."""
    first = (day.month - 1) // months * months + 1
    start = date(day.year, first, 1)
    return DayRange(start, _after(start, months) - timedelta(days=1))


def _after(start: date, months: int) -> date:
    index = start.month - 1 + months
    return date(start.year + index // 12, index % 12 + 1, 1)


def closed(now: datetime, months: int, count: int) -> list[DayRange]:
    """The last `count` periods that ended before today, oldest first."""
    found: list[DayRange] = []
    current = period_of(now.date(), months)
    while len(found) < count:
        current = period_of(current.start - timedelta(days=1), months)
        found.append(current)
    return found[::-1]
