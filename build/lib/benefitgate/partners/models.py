"""Partners; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

__all__ = ["MAX_NAME", "Partner"]

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class Partner:
    id: UUID
    name: str
    created_at: datetime
    version: int
