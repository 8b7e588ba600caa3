"""Outcome targets of an account and the progress toward them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

__all__ = ["OutcomeTarget", "TargetProgress"]


@dataclass(frozen=True, slots=True)
class OutcomeTarget:
    account_id: UUID
    outcome_key: str
    target: float
    starts_on: date
    ends_on: date  # inclusive
    note: str
    set_by: str
    set_at: datetime


@dataclass(frozen=True, slots=True)
class TargetProgress:
    target: OutcomeTarget
    actual: float | None  # None when the outcome has no measuring metric
    percent: float | None  # attainment; may pass 100
    met: bool
