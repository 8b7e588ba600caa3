"""Rolling back an audited change: restore the state before it as a new forward change,
itself audited, through the target's own rules (a seat comes back only within the
purchased count).

The target is locked before the log is read, so no change can slip in between the check
for later changes and the restore.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.chain import blocking
from benefitgate.audit.models import AuditEntry
from benefitgate.common.changes import ChangeContext, InvalidChange, RollbackRefused, TargetNotFound
from benefitgate.entitlements import grants
from benefitgate.seats import service as seats
from benefitgate.subscriptions import service as subscriptions
from benefitgate.subscriptions.lifecycle import TIME_DRIVEN

__all__ = ["rollback"]


async def _refuse_if_changed_since(conn: asyncpg.Connection, entry: AuditEntry) -> None:
    later = blocking(await audit.later_entries(conn, entry.target, entry.id))
    if later:
        names = ", ".join(f"#{e.id} {e.action} by {e.actor}" for e in later)
        raise RollbackRefused(
            f"the {entry.target.kind} changed after entry #{entry.id}: {names}; "
            "roll those back first",
            [e.id for e in later],
        )


async def _grant(conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry) -> AuditEntry:
    grant = await grants.lock_grant(conn, UUID(entry.target.id))
    await _refuse_if_changed_since(conn, entry)
    return await grants.restore_grant(conn, change, grant, entry.before, entry.id)


async def _seat(conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry) -> AuditEntry:
    account_id, _ = seats.parse_target(entry.target.id)
    purchased = await seats.lock_seats(conn, account_id)
    await _refuse_if_changed_since(conn, entry)
    return await seats.restore_seat(
        conn, change, entry.target.id, purchased, entry.before, entry.id
    )


async def _subscription(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    if entry.action in TIME_DRIVEN:
        raise InvalidChange("entryId", "renewals and trial ends are not rolled back")
    account_id, before = entry.target.account_id, entry.before
    assert account_id is not None and before is not None  # subscriptions are never created here
    sub = await subscriptions.lock_subscription(conn, account_id)
    await _refuse_if_changed_since(conn, entry)
    return await subscriptions.restore_subscription(conn, change, sub, account_id, before, entry.id)


Restore = Callable[[asyncpg.Connection, ChangeContext, AuditEntry], Awaitable[AuditEntry]]
_BY_KIND: dict[str, Restore] = {
    grants.KIND: _grant,
    seats.KIND: _seat,
    subscriptions.KIND: _subscription,
}


async def rollback(conn: asyncpg.Connection, change: ChangeContext, entry_id: int) -> AuditEntry:
    """Undo entry `entry_id` in the caller's transaction; returns the new entry. Raises
    TargetNotFound, RollbackRefused (naming the later changes), or the target's own
    refusals (SeatsExhausted)."""
    entry = await audit.entry(conn, entry_id)
    if entry is None:
        raise TargetNotFound("audit entry")
    restore = _BY_KIND.get(entry.target.kind)
    if restore is None:
        raise InvalidChange("entryId", f"{entry.target.kind} changes cannot be rolled back")
    return await restore(conn, change, entry)
