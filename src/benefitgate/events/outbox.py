"""The event outbox: enqueue in the caller's transaction, read as a gap-free feed.

The cursor is (txid, id). A reader only sees rows whose transaction id is below the oldest
transaction of this database still running (`events.readable`), so a transaction that took
a lower id but committed late can never be skipped by a reader that already moved past it.

The txid column is read and compared as what it is, an `xid8` (asyncpg decodes it to an
int): never cast it for a statement. A text cast aliased under the column's name made
`order by txid` sort as text ("10000" before "999") while the cursor compared numbers, and
events were skipped once transaction ids gained a digit.

The horizon bounds the reads as a scalar (`(select xmin from horizon)`), so that the index
on (txid, id) stops at it: joined as a row, it was a filter, and every look read all the
committed events held back above it (under ingest, thousands each time, many times a
second), and the check for held-back events scanned the whole table.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from benefitgate.common.text import quoted
from benefitgate.db import MAX_BIGINT
from benefitgate.events import readable, written

__all__ = [
    "CHANNEL",
    "INTERNAL_GLOBAL_PREFIXES",
    "PARTNER_LINKS",
    "START",
    "Cursor",
    "Event",
    "EventScope",
    "FeedPage",
    "InvalidCursor",
    "NewEvents",
    "Page",
    "Reader",
    "check_issued",
    "enqueue",
    "enqueue_many",
    "internal_only",
    "other_partners_link",
    "own_unlink_of",
    "read_feed",
    "read_feed_page",
    "read_new",
    "read_page",
    "tail_cursor",
]

CHANNEL = "benefitgate_events"
# Global events (no account) that only internal readers see: they name partners, keys
# and endpoints. Every other global event (the catalog's) is everyone's.
INTERNAL_GLOBAL_PREFIXES = ("api_key.", "partner.", "webhook.")
_INTERNAL_PATTERNS = [f"{prefix}%" for prefix in INTERNAL_GLOBAL_PREFIXES]


def internal_only(event_type: str, account_id: UUID | None) -> bool:
    """Whether only internal readers may see an event of this type and account."""
    return account_id is None and event_type.startswith(INTERNAL_GLOBAL_PREFIXES)


# Events of one partner's link to an account, naming that partner (`partnerId`): of the
# partners that manage the account, only that one hears them. Another partner of the
# same account learnt who else managed it.
PARTNER_LINKS = ("partner.account_linked", "partner.account_unlinked")
# The end of a partner's link, which that partner hears although, by the time it is read,
# it no longer manages the account: how it learns to stop following the account.
UNLINKED = "partner.account_unlinked"


def other_partners_link(event: Event, partner_id: UUID) -> bool:
    """Whether `event` is another partner's link to its account, which `partner_id` may
    not see though it manages the account."""
    return event.type in PARTNER_LINKS and event.payload.get("partnerId") != str(partner_id)


def own_unlink_of(event: Event) -> UUID | None:
    """The partner whose link to the account `event` ends, when it is such an event."""
    if event.type != UNLINKED:
        return None
    try:
        return UUID(str(event.payload.get("partnerId")))
    except ValueError:
        return None


_NUMBER = re.compile(r"0|[1-9][0-9]{0,19}")


class InvalidCursor(ValueError):
    """A cursor string that this service did not produce."""


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    txid: int
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.txid}:{self.id}".encode()).decode()

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        """The cursor `raw` encodes, only in the form `encode` writes: two ASCII numbers
        without signs, spaces, underscores or padding beyond base64's own."""
        try:
            text = base64.urlsafe_b64decode(raw.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidCursor(f"not a valid event cursor: {quoted(raw)}") from exc
        txid, _, event_id = text.partition(":")
        if not (_NUMBER.fullmatch(txid) and _NUMBER.fullmatch(event_id)):
            raise InvalidCursor(f"not a valid event cursor: {quoted(raw)}")
        cursor = cls(int(txid), int(event_id))
        # Its numbers are compared with bigint columns; one canonical spelling each.
        if cursor.txid > MAX_BIGINT or cursor.id > MAX_BIGINT or cursor.encode() != raw:
            raise InvalidCursor(f"not a valid event cursor: {quoted(raw)}")
        return cursor


START = Cursor(0, 0)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    cursor: Cursor
    type: str
    account_id: UUID | None
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventScope:
    """Which events a reader may see: all, or those of some accounts plus global ones."""

    everything: bool = False
    account_id: UUID | None = None
    partner_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Reader:
    """Who follows the outbox live: what they may see, the subject of their credential (a
    revoked API key's subject is closed at once) and when the credential expires."""

    scope: EventScope
    subject: str
    expires_at: datetime | None = None


async def enqueue(
    conn: asyncpg.Connection, type: str, account_id: UUID | None, payload: dict[str, Any]
) -> int:
    """Write one event in the caller's transaction and wake listeners after it commits.

    Postgres folds identical notifications of one transaction into one, so a transaction
    that enqueues many events still sends a single NOTIFY.
    """
    written.note(type, [account_id])
    event_id: int = await conn.fetchval(
        """
        with woken as (select pg_notify($4, ''))
        insert into events (type, account_id, payload)
        select $1, $2, $3 from woken
        returning id
        """,
        type,
        account_id,
        payload,
        CHANNEL,
    )
    return event_id


async def enqueue_many(
    conn: asyncpg.Connection, type: str, events: Sequence[tuple[UUID | None, dict[str, Any]]]
) -> list[int]:
    """Write one event of `type` per (account id, payload), in one statement and in order,
    in the caller's transaction; listeners are woken once, after it commits."""
    if not events:
        return []
    written.note(type, [account_id for account_id, _ in events])
    rows = await conn.fetch(
        """
        with woken as (select pg_notify($4, ''))
        insert into events (type, account_id, payload)
        select $1, e.account_id, e.payload::jsonb
        from woken, unnest($2::uuid[], $3::text[]) with ordinality as e(account_id, payload, n)
        order by e.n
        returning id
        """,
        type,
        [account_id for account_id, _ in events],
        [orjson.dumps(payload).decode() for _, payload in events],
        CHANNEL,
    )
    return [row["id"] for row in rows]


async def read_feed(
    conn: asyncpg.Connection,
    after: Cursor,
    limit: int,
    scope: EventScope,
    probe: readable.Probe | None = None,
) -> list[Event]:
    """Events after the cursor, in (txid, id) order, that are safe to hand out."""
    return (await read_feed_page(conn, after, limit, scope, probe)).events


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Up to `limit` events a reader may see after a cursor, and `settled`: a position at
    or after the cursor and the last event, below which no event can appear any more (every
    transaction of this database below it had ended when the page was read; on a standby,
    which cannot tell the primary's transactions apart by database, every one) and none is
    left of those pruned. A page of
    fewer than `limit` events held every event the reader may see up to it: the reader may
    go on from there, past the events it may not see. (From its last event, or from the
    cursor for an empty page, it read them again on every page, and a quiet reader's
    cursor fell below the retention horizon though it had missed nothing.)"""

    events: list[Event]
    settled: Cursor


async def read_feed_page(
    conn: asyncpg.Connection,
    after: Cursor,
    limit: int,
    scope: EventScope,
    probe: readable.Probe | None = None,
) -> FeedPage:
    """`read_feed`'s events, with the position settled when they were read (one statement,
    one snapshot)."""
    probe = probe or await readable.take(conn)
    rows = await conn.fetch(
        f"""
        with {readable.horizon_cte("$8", "$9")},
        page as (
            select e.id, e.txid, e.type, e.account_id, e.payload, e.created_at
            from events e
            where (e.txid, e.id) > ($1::xid8, $2)
              and e.txid < (select xmin from horizon)
              and ($3 or (e.account_id is null and not (e.type like any($7::text[])))
                   or e.account_id = $4
                   or (e.account_id in (select account_id from partner_accounts
                                        where partner_id = $5)
                       and not (e.type = any($10::text[])
                                and e.payload->>'partnerId' is distinct from $5::text))
                   or (e.type = $11 and e.payload->>'partnerId' = $5::text))
            order by e.txid, e.id
            limit $6
        )
        select case when pg_is_in_recovery() then pg_snapshot_xmin(pg_current_snapshot())
                    else (select xmin from horizon) end::text as ended_below,
               h.txid::text as pruned_txid, h.id as pruned_id, p.*
        from event_horizon h left join page p on true
        order by p.txid, p.id
        """,  # noqa: S608 (fixed SQL, no input)
        after.txid,
        after.id,
        scope.everything,
        scope.account_id,
        scope.partner_id,
        limit,
        _INTERNAL_PATTERNS,
        probe.next_xid,
        list(probe.running),
        list(PARTNER_LINKS),
        UNLINKED,
    )
    found = [_event(row) for row in rows if row["id"] is not None]
    first = rows[0]
    # The next transaction to end has an xid of at least `ended_below`.
    ended = Cursor(int(first["ended_below"]) - 1, MAX_BIGINT)
    pruned = Cursor(int(first["pruned_txid"]), first["pruned_id"])
    return FeedPage(found, max(after, ended, pruned, *(e.cursor for e in found[-1:])))


@dataclass(frozen=True, slots=True)
class Page:
    """A page of the whole outbox for a consumer of types and accounts: its events, without
    payloads, less those of the types passed over; where the page ends; how many it held."""

    events: list[Event]
    last: Cursor | None  # None: the page was empty
    size: int


async def read_page(
    conn: asyncpg.Connection, after: Cursor, limit: int, skip: Collection[str] = ()
) -> Page:
    """Up to `limit` events after the cursor, in (txid, id) order, that are safe to hand
    out, without payloads; those of the types in `skip` are counted and passed over
    without becoming events (ingest's usage.recorded events, one per account of a batch,
    were a twentieth of a busy service's CPU as the jobs read them)."""
    probe = await readable.take(conn)
    rows = await conn.fetch(
        f"""
        with {readable.horizon_cte("$4", "$5")}
        select e.id, e.txid, e.type, e.account_id, e.created_at
        from events e
        where (e.txid, e.id) > ($1::xid8, $2) and e.txid < (select xmin from horizon)
        order by e.txid, e.id
        limit $3
        """,  # noqa: S608 (fixed SQL, no input)
        after.txid,
        after.id,
        limit,
        probe.next_xid,
        list(probe.running),
    )
    if not rows:
        return Page([], None, 0)
    events = [
        Event(r[0], Cursor(r[1], r[0]), r[2], r[3], {}, r[4]) for r in rows if r[2] not in skip
    ]
    return Page(events, Cursor(rows[-1][1], rows[-1][0]), len(rows))


async def tail_cursor(conn: asyncpg.Connection) -> Cursor:
    """The position just after the last event a reader may see now."""
    probe = await readable.take(conn)
    row = await conn.fetchrow(
        f"""
        with {readable.horizon_cte("$1", "$2")}
        select e.txid, e.id from events e
        where e.txid < (select xmin from horizon)
        order by e.txid desc, e.id desc limit 1
        """,  # noqa: S608 (fixed SQL, no input)
        probe.next_xid,
        list(probe.running),
    )
    return START if row is None else Cursor(row["txid"], row["id"])


async def check_issued(conn: asyncpg.Connection, cursor: Cursor) -> None:
    """Raise InvalidCursor if no reader can have been handed `cursor`; its message says
    why, to follow "after is".

    A reader handed one past the outbox's end (from another database, or made up) would
    wait there, passing over every event written until the transaction ids reached it. Nor
    does the service hand out a position inside a transaction's events that no event holds
    (a real transaction id with a made-up event id): a reader there would pass over the
    rest of that transaction's events. What it hands out is the start, an event's position,
    a position after every event of a transaction (the largest id), or the retention
    horizon; a position at or below the horizon is left to the retention check, since
    its event may have been pruned.

    Only the primary can tell: a read replica behind the primary that handed the cursor
    out has not seen its transaction yet, and refuses nothing. So does a transaction this
    snapshot cannot see ended yet."""
    ahead, known = await conn.fetchrow(
        """
        select not pg_is_in_recovery()
               and $1::xid8 >= pg_snapshot_xmax(pg_current_snapshot()),
               pg_is_in_recovery()
               or $2::bigint = $3::bigint
               or not pg_visible_in_snapshot($1::xid8, pg_current_snapshot())
               or ($1::xid8, $2) <= (select h.txid, h.id from event_horizon h)
               or exists (select from events e where e.txid = $1::xid8 and e.id = $2)
        """,
        cursor.txid,
        cursor.id,
        MAX_BIGINT,
    )
    if ahead:
        raise InvalidCursor("past the newest event")
    if not known:
        raise InvalidCursor("not a position of this API's events")


@dataclass(frozen=True, slots=True)
class NewEvents:
    """One look at the outbox by a listener: the events after its cursor that are safe to
    hand out (less those of the types passed over), who manages each event's account right
    now, how many events the look read and the last of them (`reached`, None: none; the
    next look starts after it), whether committed events after the cursor are still held
    back by an older open transaction of this database (its commit may wake no listener),
    the horizon probe for the next look, and the primary's WAL flush position after the
    look's snapshot: every commit it saw ends at or below it (a commit is flushed before
    it is acknowledged). The WAL writer flushes whole pages, so the position may fall
    inside a record that is not complete yet; a standby reaches it at the next commit
    anywhere on the primary (the insert position, never flushed for WAL without a commit,
    could stay out of reach for good)."""

    events: list[Event]
    partners: dict[UUID, frozenset[UUID]]
    held_back: bool
    probe: readable.Probe
    wal_position: int
    reached: Cursor | None = None
    looked: int = 0

    @property
    def passed_over(self) -> bool:
        """Whether the look passed over events of the skipped types."""
        return self.looked > len(self.events)


async def read_new(
    conn: asyncpg.Connection,
    after: Cursor,
    limit: int,
    probe: readable.Probe,
    skip: Collection[str] = (),
) -> NewEvents:
    """Everything a listener needs on each wake, in one statement: one round trip per
    committed transaction, where a read, a partner lookup, a held-back check and a probe
    were four. `probe` is the one the previous look returned (`readable.CAUTIOUS` at
    first). `held_back` is exact when fewer than `limit` events were read. Events of the
    types in `skip` are read, counted and passed over, without becoming events: for a
    listener whose handlers need nothing of them right now (ingest writes a
    usage.recorded event per account of a batch, and the listener reading them back,
    even without payloads, took 5 % of a busy service's CPU)."""
    rows = await conn.fetch(
        f"""
        with {readable.horizon_cte("$4", "$5")},
        visible as (
            select e.id, e.txid, e.type, e.account_id,
                   case when e.type = any($6::text[]) then null else e.payload end as payload,
                   e.created_at
            from events e
            where (e.txid, e.id) > ($1::xid8, $2) and e.txid < (select xmin from horizon)
            order by e.txid, e.id
            limit $3
        )
        select v.id, v.txid, v.type, v.account_id, v.payload, v.created_at,
               array(select p.partner_id from partner_accounts p
                     where p.account_id = v.account_id) as partner_ids,
               held.held_back, held.probe_next, held.probe_running, held.wal_position,
               held.looked, held.last_txid, held.last_id
        from (select (select true from events e
                       where (e.txid, e.id) > ($1::xid8, $2) and e.txid >= h.xmin
                       order by e.txid, e.id limit 1) is not null as held_back,
                     h.probe_next, {readable.NEXT_PROBE},
                     pg_current_wal_flush_lsn() as wal_position,
                     (select count(*) from visible) as looked,
                     (select l.txid from visible l order by l.txid desc, l.id desc limit 1)
                         as last_txid,
                     (select l.id from visible l order by l.txid desc, l.id desc limit 1)
                         as last_id
              from horizon h) held
        left join visible v on v.type <> all($6::text[])
        order by v.txid, v.id
        """,  # noqa: S608 (fixed SQL, no input)
        after.txid,
        after.id,
        limit,
        probe.next_xid,
        list(probe.running),
        list(skip),
    )
    # By position: a look may hand over hundreds of events.
    found = rows if rows[0][0] is not None else []
    head = rows[0]
    return NewEvents(
        events=[Event(r[0], Cursor(r[1], r[0]), r[2], r[3], r[4], r[5]) for r in found],
        partners={r[3]: frozenset(r[6]) for r in found if r[3] is not None},
        held_back=head["held_back"],
        probe=readable.probe_from(head),
        wal_position=head["wal_position"],
        reached=None if head["last_id"] is None else Cursor(head["last_txid"], head["last_id"]),
        looked=head["looked"],
    )


def _event(row: asyncpg.Record) -> Event:
    return Event(
        id=row["id"],
        cursor=Cursor(row["txid"], row["id"]),
        type=row["type"],
        account_id=row["account_id"],
        payload=row["payload"],
        created_at=row["created_at"],
    )
