"""Grants and the effective entitlements resolved from them; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

__all__ = ["EffectiveLimit", "Entitlement", "Grant"]


@dataclass(frozen=True, slots=True)
class Grant:
    id: UUID
    account_id: UUID
    benefit_key: str
    source: str
    amount: float | None
    mode: str  # add | override
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    version: int = 1

    def active_at(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and self.valid_from <= now
            and (self.valid_until is None or now < self.valid_until)
        )


@dataclass(frozen=True, slots=True)
class Entitlement:
    benefit_key: str
    source: str  # the winning source, by precedence
    sources: tuple[str, ...]  # every source that gives it, strongest first
    amount: float | None  # credits and similar: the sum over active grants
    expires_at: datetime | None  # None: does not expire
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EffectiveLimit:
    metric_key: str
    enforcement: str  # hard | soft | unlimited
    included: float | None  # None when unlimited
    sources: tuple[str, ...]
