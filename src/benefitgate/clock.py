"""Time comes from an injected clock, so periods and expiries are testable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock", "days_until"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is set; tests move it explicitly."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


def days_until(at: datetime, now: datetime) -> int:
    """Calendar days (UTC) from `now`'s date to `at`'s, as "9 days until the renewal on 16
    December" reads on 7 December at any hour; 0 once the day has come or passed."""
    return max((at.astimezone(UTC).date() - now.astimezone(UTC).date()).days, 0)
