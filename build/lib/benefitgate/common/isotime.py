"""Optional instants as ISO 8601 text, the form JSON results and audit snapshots keep."""

from __future__ import annotations

from datetime import datetime

__all__ = ["from_iso", "to_iso"]


def to_iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def from_iso(raw: str | None) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(raw)
