"""Audit use cases: record a change with the change itself, read the log page by page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from benefitgate.audit import repository
from benefitgate.audit.models import AuditEntry, AuditFilter, Target
from benefitgate.common.changes import ChangeContext

__all__ = ["entry", "later_entries", "record", "record_many", "search"]


async def record(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    target: Target,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    rollback_of: int | None = None,
) -> AuditEntry:
    """Append the entry in the caller's transaction, which holds the change it describes."""
    return await repository.append(conn, change, action, target, before, after, rollback_of)


async def entry(conn: asyncpg.Connection, entry_id: int) -> AuditEntry | None:
    return await repository.entry(conn, entry_id)


async def later_entries(
    conn: asyncpg.Connection, target: Target, after_id: int
) -> list[AuditEntry]:
    return await repository.later_entries(conn, target, after_id)


async def search(
    conn: asyncpg.Connection, where: AuditFilter, before_id: int | None, limit: int
) -> list[AuditEntry]:
    return await repository.search(conn, where, before_id, limit)


async def record_many(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    changes: Sequence[tuple[Target, dict[str, Any] | None, dict[str, Any] | None]],
) -> list[int]:
    """Append one entry per (target, before, after) of a bulk change, in the caller's
    transaction and in one statement, in the order given; returns their ids in that
    order (a bulk change reads nothing back but the ids its events name)."""
    return await repository.append_many(conn, change, action, changes)
