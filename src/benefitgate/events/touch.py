"""Changes announced to every process without the outbox, and the record of what a
request changed.

Usage counters change with every usage write and every consumption. Each writes a
`usage.recorded` event per account, but the listeners do not read those back unless a live
stream follows them (`app.SKIPPED_EVENTS`: one per account of every ingest batch, they
took a busy service 5 to 6 % of its CPU to read); a suggestion update and seat activity
write no event at all. The account views that show them are cached all the same. `touch`
sends the accounts a transaction changed on its own channel, delivered after commit to
every replica's listener like the outbox's NOTIFY (a listener that reconnects drops what it
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
# A payload that named all accounts, once sent past MAX_IDS of them; a replica of an
# earlier version may still send it during a rolling upgrade.
ALL = "*"
# Accounts a notification names at most, 36 characters each: well under NOTIFY's
# 8,000-byte payload. More go in several notifications: one naming all accounts instead
# had every replica drop every cached response at each ingest batch of over 200 accounts.
MAX_IDS = 200


async def touch(conn: asyncpg.Connection, account_ids: Iterable[UUID]) -> None:
    """Announce, after the caller's transaction commits, that these accounts changed."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    written.note(TOUCHED, ids)
    texts = [str(i) for i in ids]
    parts = [",".join(texts[at : at + MAX_IDS]) for at in range(0, len(texts), MAX_IDS)]
    await conn.execute("select pg_notify($1, part) from unnest($2::text[]) as part", CHANNEL, parts)


def parse(payload: str) -> list[UUID] | None:
    """The accounts a notification names; None for all of them."""
    if payload == ALL:
        return None
    return [UUID(part) for part in payload.split(",") if part]
