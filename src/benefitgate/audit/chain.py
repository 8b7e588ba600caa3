"""Which later changes stand in the way of rolling back an entry. Pure, no I/O.

A rollback restores the state before the entry it rolls back, so it cancels that entry
and everything after it up to itself: change A, change B, roll back B leaves the target
as A left it, and A may then be rolled back too. A rollback of a rollback cancels that
rollback the same way, and stands as a change of its own: change A, change B, roll back
B, roll back that rollback leaves B's change in force again, which blocks A.
"""

from __future__ import annotations

from collections.abc import Sequence

from benefitgate.audit.models import AuditEntry

__all__ = ["blocking", "rolled_back_by"]


def rolled_back_by(later: Sequence[AuditEntry], entry_id: int) -> AuditEntry | None:
    """The entry of `later` that rolled back entry `entry_id`, if one did: an entry is
    rolled back at most once, whatever was done to that rollback since."""
    return next((e for e in later if e.rollback_of == entry_id), None)


def blocking(later: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The entries of `later` (all about one target, after the entry to roll back, oldest
    first) whose change is still in force: each rollback of an entry still standing
    cancels it and every entry after it; any other entry stands, a rollback of something
    outside `later` included."""
    standing: list[AuditEntry] = []
    for entry in later:
        undone = next((i for i, e in enumerate(standing) if e.id == entry.rollback_of), None)
        if undone is None:
            standing.append(entry)
        else:
            del standing[undone:]
    return standing
