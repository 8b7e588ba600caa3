"""Changes that write no outbox event, announced to every process, and the record of what a
request changed.

Usage counters change with every usage write and every consumption, too often for an
event each; the account views that show them are cached all the same. `touch` sends the
accounts a transaction changed on its own channel, delivered after commit to every
replica's listener like the outbox's NOTIFY (a listener that reconnects drops what it
derived, since a notification sent while it was away is gone).

`recording` collects, for the request that runs inside it, the (type, account id) of every
event enqueued and every account touched, so that the request's edge can invalidate what
its own writes changed before it answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from uuid import UUID

import asyncpg

__all__ = ["ALL", "CHANNEL", "TOUCHED", "Changed", "note", "parse", "recording", "touch"]

CHANNEL = "benefitgate_touched"
TOUCHED = "usage.touched"  # the type recorded for a touched account
ALL = "*"  # a payload naming too many accounts for a notification: all of them
_MAX_IDS = 200  # 36 characters each: well under NOTIFY's 8,000-byte payload

Changed = list[tuple[str, UUID | None]]
_changed: ContextVar[Changed | None] = ContextVar("benefitgate_changed", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Changed]:
    changed: Changed = []
    token = _changed.set(changed)
    try:
        yield changed
    finally:
        _changed.reset(token)


def note(kind: str, account_ids: Iterable[UUID | None]) -> None:
    changed = _changed.get()
    if changed is not None:
        changed.extend((kind, a) for a in account_ids)


async def touch(conn: asyncpg.Connection, account_ids: Iterable[UUID]) -> None:
    """Announce, after the caller's transaction commits, that these accounts changed."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    note(TOUCHED, ids)
    payload = ALL if len(ids) > _MAX_IDS else ",".join(str(i) for i in ids)
    await conn.execute("select pg_notify($1, $2)", CHANNEL, payload)


def parse(payload: str) -> list[UUID] | None:
    """The accounts a notification names; None for all of them."""
    if payload == ALL:
        return None
    return [UUID(part) for part in payload.split(",") if part]
