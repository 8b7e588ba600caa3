"""What a request's own writes changed: the (type, account) of every outbox event its
transactions enqueued and of every account they touched without one (`events.touch`).

Every replica learns of a committed change from its listener, a moment after the commit.
The replica that made the change must not answer its caller from before it in that
moment: an edge records what its writes changed (`recording`), and after the commit drops
what it derived from them before answering (the entitlement snapshots at the mutation
edge, the response cache at the HTTP view). Recordings nest: a change noted inside an
inner one is noted in every enclosing one too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from uuid import UUID

__all__ = ["Changes", "accounts_of", "note", "recording"]

Changes = list[tuple[str, UUID | None]]  # (event type, account id or None)
_recorders: ContextVar[tuple[Changes, ...]] = ContextVar("benefitgate_written", default=())


@contextlib.contextmanager
def recording() -> Iterator[Changes]:
    """Collect what is noted inside, in this task and those it starts."""
    changes: Changes = []
    token = _recorders.set((*_recorders.get(), changes))
    try:
        yield changes
    finally:
        _recorders.reset(token)


def note(kind: str, account_ids: Iterable[UUID | None]) -> None:
    recorders = _recorders.get()
    if recorders:
        noted = [(kind, a) for a in account_ids]
        for changes in recorders:
            changes.extend(noted)


def accounts_of(changes: Changes) -> set[UUID]:
    return {a for _, a in changes if a is not None}
