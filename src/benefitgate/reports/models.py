"""A stored impact report; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from benefitgate.impact.models import DayRange

__all__ = ["Report"]


@dataclass(frozen=True, slots=True)
class Report:
    account_id: UUID
    period: DayRange
    created_at: datetime
    document: dict[str, Any]  # see `reports.document`
