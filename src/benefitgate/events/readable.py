"""How far the outbox may be read: below the oldest transaction of *this database* that
may still commit events.

Transaction ids are server-wide, so the plain horizon, `pg_snapshot_xmin`, waits for every
open transaction on the server: a `pg_dump`, a report or another application's long
transaction in any database held back every replica's live events, webhooks and cache
invalidation. Only this database's transactions can write our events, so the horizon is
the oldest of the snapshot's running transactions that may be ours.

Which running transactions are ours comes from `pg_stat_activity.backend_xid` (visible to
every role) and `pg_prepared_xacts`. That read is not atomic with the reader's snapshot,
hence the probe: an earlier statement records `next_xid` (its snapshot's xmax) and then
the xids this database is running. A transaction of ours still running at the reader's
later snapshot either took its xid before `next_xid`, and was running when the probe
looked, so it is listed; or took it after, and every xid at or above `next_xid` counts as
possibly ours. An older probe is only more cautious, so a reader may reuse the one its
previous statement returned.

Each reading statement must take a snapshot of its own after the probe (read committed),
and the probe must read backend states afresh; inside a transaction the probe clears the
transaction's cached backend states first, and at stricter isolation levels the reader
falls back to the server-wide horizon (`CAUTIOUS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

__all__ = ["CAUTIOUS", "NEXT_PROBE", "Probe", "horizon_cte", "probe_from", "take"]


@dataclass(frozen=True, slots=True)
class Probe:
    next_xid: int  # every xid at or above it may be this database's
    running: tuple[int, ...]  # this database's running xids below it, as 32-bit xids


# Knows nothing: every running transaction may be ours (the server-wide horizon).
CAUTIOUS = Probe(0, ())

# A CTE `horizon(xmin)` for a reading statement; $N and $R are placeholders for the probe's
# `next_xid` and `running` (an xid8's low 32 bits are its 32-bit xid).
_HORIZON_CTE = """
    horizon as (
        select coalesce(
                   (select min(x) from pg_snapshot_xip(s.snap) x
                    where x >= $N::xid8 or x::text::bigint % 4294967296 = any($R::bigint[])),
                   pg_snapshot_xmax(s.snap)) as xmin,
               pg_snapshot_xmax(s.snap) as probe_next
        from (select pg_current_snapshot() as snap) s
    )"""

# The probe a statement leaves for the next one: its snapshot's xmax (`probe_next` of the
# CTE above), then this database's running xids, read while the statement runs.
NEXT_PROBE = """
    array(select backend_xid::text::bigint from pg_stat_activity
          where datname = current_database() and backend_xid is not null
          union all
          select transaction::text::bigint from pg_prepared_xacts
          where database = current_database()) as probe_running"""


def horizon_cte(next_xid: str, running: str) -> str:
    """The CTE with the statement's placeholders for the probe (such as "$4")."""
    return _HORIZON_CTE.replace("$N", next_xid).replace("$R", running)


def probe_from(row: asyncpg.Record) -> Probe:
    return Probe(row["probe_next"], tuple(row["probe_running"]))


async def take(conn: asyncpg.Connection) -> Probe:
    """A probe for the reading statements that follow on `conn`."""
    if conn.is_in_transaction():
        isolation = await conn.fetchval(
            "select current_setting('transaction_isolation'), pg_stat_clear_snapshot()"
        )
        if isolation != "read committed":
            return CAUTIOUS  # one snapshot for the whole transaction: it predates the probe
    row = await conn.fetchrow(
        f"select pg_snapshot_xmax(pg_current_snapshot()) as probe_next, {NEXT_PROBE}"
    )
    assert row is not None
    return probe_from(row)
