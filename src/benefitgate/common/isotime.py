"""Optional instants as ISO 8601 text, the form JSON results and audit snapshots keep;
how far ahead a change may be dated."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["WITHIN_A_YEAR", "from_iso", "to_iso"]

# How far ahead an operator may date what takes effect later (a tier version's publication,
# a grant's start), as a subscription's start is bounded: a mistyped year (9999) was
# taken, and a version scheduled then blocked every later version of its tier for good.
WITHIN_A_YEAR = timedelta(days=366)


def to_iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def from_iso(raw: str | None) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(raw)
