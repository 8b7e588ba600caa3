"""Audit entries: one per change, append-only; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

__all__ = ["AuditEntry", "AuditFilter", "Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a change changed: a grant, a user's seat, a subscription."""

    kind: str
    id: str
    account_id: UUID | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: Target
    before: dict[str, Any] | None  # None: the target did not exist (or was not held)
    after: dict[str, Any] | None
    reason: str
    request_id: str | None
    rollback_of: int | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    account_id: UUID | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
