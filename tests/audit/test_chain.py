"""Which later entries block a rollback, on chains of changes and rollbacks (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benefitgate.audit.chain import blocking, rolled_back_by
from benefitgate.audit.models import AuditEntry, Target

TARGET = Target("grant", "g", None)


def _log(*rollback_ofs: int | None, first: int = 2) -> list[AuditEntry]:
    """Entries #first, #first+1 ... each rolling back the entry given (None: a change)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        AuditEntry(first + i, at, "key:k", "x", TARGET, None, None, "", None, of)
        for i, of in enumerate(rollback_ofs)
    ]


@pytest.mark.parametrize(
    ("rollback_ofs", "standing"),
    [
        ((), []),
        ((None,), [2]),  # B
        ((None, 2), []),  # B, undo B
        ((None, None, 3, 2), []),  # B, C, undo C, undo B
        ((None, None, 2), []),  # B, C, undo B (refused in practice): back to before B
        ((None, 2, 3), [4]),  # B, undo B, redo B: the redo stands
        ((None, 2, 3, 4), []),  # ... and undo the redo
        ((None, 2, 3, 4, 5), [6]),  # ... and redo it again
        ((1,), [2]),  # a rollback of something earlier stands
    ],
)
def test_later_entries_stand_unless_a_rollback_cancelled_them(
    rollback_ofs: tuple[int | None, ...], standing: list[int]
) -> None:
    assert [e.id for e in blocking(_log(*rollback_ofs))] == standing


def test_an_entry_is_rolled_back_once_whatever_became_of_its_rollback() -> None:
    assert rolled_back_by(_log(None, 2), 1) is None
    later = _log(1, 2, 3)  # undo A, redo A, undo the redo
    undo = rolled_back_by(later, 1)
    assert undo is not None and undo.id == 2
