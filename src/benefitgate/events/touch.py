"""Changes that write no outbox event, announced to every process, and the record of what a
request changed.

Usage counters change with every usage write and every consumption, too often for an
event each; the account views that show them are cached all the same. `touch` sends the
accounts a transaction changed on its own channel, delivered after commit to every
replica's listener like the outbox's NOTIFY (a listener that reconnects drops what it
derived, since a notification sent while it was away is gone).

Each touch is also noted in `events.written`, so that the request that made it can
invalidate what it changed before it answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import asyncpg

from benefitgate.events import written

__all__ = ["ALL", "CHANNEL", "MAX_IDS", "TOUCHED", "parse", "touch"]

CHANNEL = "benefitgate_touched"
TOUCHED = "usage.touched"  # the type recorded for a touched account
ALL = "*"  # a payload naming too many accounts for a notification: all of them
MAX_IDS = 200  # 36 characters each: well under NOTIFY's 8,000-byte payload


async def touch(conn: asyncpg.Connection, account_ids: Iterable[UUID]) -> None:
    """Announce, after the caller's transaction commits, that these accounts changed."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    written.note(TOUCHED, ids)
    payload = ALL if len(ids) > MAX_IDS else ",".join(str(i) for i in ids)
    await conn.execute("select pg_notify($1, $2)", CHANNEL, payload)


def parse(payload: str) -> list[UUID] | None:
    """The accounts a notification names; None for all of them."""
    if payload == ALL:
        return None
    return [UUID(part) for part in payload.split(",") if part]
