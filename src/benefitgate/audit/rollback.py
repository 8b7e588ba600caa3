"""Rolling back an audited change: restore the state before it as a new forward change,
itself audited, through the target's own rules (a seat comes back only within the
purchased count).

Each domain that owns a kind of target gives its restore function; the app builds one
`Rollbacks` from them, so this module imports no domain. A restore locks its target before
it calls `refuse_if_changed_since`, so no change can slip in between the check for later
changes and the restore.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.chain import blocking, rolled_back_by
from benefitgate.audit.models import AuditEntry
from benefitgate.common.changes import ChangeContext, InvalidChange, RollbackRefused, TargetNotFound

__all__ = ["Restore", "Rollbacks", "refuse_if_changed_since"]

# Restores the state before `entry` of a target the domain owns, in the caller's
# transaction; returns the new entry.
Restore = Callable[[asyncpg.Connection, ChangeContext, AuditEntry], Awaitable[AuditEntry]]


async def refuse_if_changed_since(conn: asyncpg.Connection, entry: AuditEntry) -> None:
    """Raise RollbackRefused, naming them, if the target changed after `entry` (changes
    since rolled back do not count), or if `entry` was rolled back already (naming that
    rollback). Call it with the target locked."""
    since = await audit.later_entries(conn, entry.target, entry.id)
    undone = rolled_back_by(since, entry.id)
    if undone is not None:
        raise RollbackRefused(
            f"entry #{entry.id} was rolled back already, by #{undone.id}", [undone.id]
        )
    later = blocking(since)
    if later:
        names = ", ".join(f"#{e.id} {e.action} by {e.actor}" for e in later)
        raise RollbackRefused(
            f"the {entry.target.kind} changed after entry #{entry.id}: {names}; "
            "roll those back first",
            [e.id for e in later],
        )


class Rollbacks:
    """The restore function of each kind of target, by the kind audit entries name."""

    def __init__(self, by_kind: Mapping[str, Restore]) -> None:
        self._by_kind = dict(by_kind)

    async def rollback(
        self, conn: asyncpg.Connection, change: ChangeContext, entry_id: int
    ) -> AuditEntry:
        """Undo entry `entry_id` in the caller's transaction; returns the new entry. Raises
        TargetNotFound, RollbackRefused (naming the later changes), or the target's own
        refusals (SeatsExhausted)."""
        entry = await audit.entry(conn, entry_id)
        if entry is None:
            raise TargetNotFound("audit entry")
        restore = self._by_kind.get(entry.target.kind)
        if restore is None:
            raise InvalidChange("entryId", f"{entry.target.kind} changes cannot be rolled back")
        return await restore(conn, change, entry)
