"""Which later changes stand in the way of rolling back an entry. Pure, no I/O.

A later change blocks unless it was itself rolled back by another later entry: change A,
change B, roll back B leaves the target as A left it, so A may then be rolled back too.
"""

from __future__ import annotations

from collections.abc import Sequence

from benefitgate.audit.models import AuditEntry

__all__ = ["blocking"]


def blocking(later: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The entries of `later` (all about one target, after the entry to roll back) that
    were not reversed within `later`. An entry that rolls back something outside `later`,
    including the entry in question, blocks: that entry is already rolled back."""
    ids = {e.id for e in later}
    reversed_ids = {e.rollback_of for e in later if e.rollback_of in ids}
    pairs = reversed_ids | {e.id for e in later if e.rollback_of in reversed_ids}
    return [e for e in later if e.id not in pairs]
