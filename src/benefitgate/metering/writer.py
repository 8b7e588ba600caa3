"""Group commit of ingest: the batches a process has ready at one moment are written in
one transaction and one write statement, each batch keeping its own per-event outcomes.

Why: concurrent batches of one process share counters, so each one's write waited on the
row locks of another, which held them until the event loop, busy with other requests,
got round to its COMMIT. With groups, those waits halved and Postgres spent less CPU an
event in 6 of the 8 pairs measured (bench/README). A process writes at most
WRITERS groups at once, and a group makes one transaction (its statements, its commit)
of what several batches made.

A batch is prepared by its request (`prepare`: its partitions, its accounts read and the
rules applied, what the cascade reads, its rows) outside any transaction; only the
write and what must follow it in its transaction run in the writer's. The contract, as
for a batch written alone:

- every event's outcome is the one it would have if the group's batches had been written
  one after another in the order they came: an event of a later batch whose key an
  earlier batch of the group holds is a duplicate (or refused with it, for too many
  groups);
- a batch whose preparation fails fails alone, before it reaches the writer;
- a database failure fails every batch of its group (each request answers as it would
  for its own transaction: a retry with the same event ids counts each event once); any
  other failure of a group's transaction has each of its batches written again alone, so
  that one batch's failure fails it alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

import asyncpg

from benefitgate import db
from benefitgate.accounts.known import KnownAccounts
from benefitgate.auth.principals import Principal
from benefitgate.catalog.models import Catalog
from benefitgate.metering import ingest
from benefitgate.metering.cascade import UsageCascade
from benefitgate.metering.ingest import Candidate, Screened
from benefitgate.metering.models import EventOutcome, EventStatus, UsageEvent
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.repository import EventRows

__all__ = ["GROUP_EVENTS", "WRITERS", "IngestWriter", "Prepared"]

Key = tuple[UUID, str, str]  # account, source, event id

# Writers a process runs at once. With one, Postgres's writing backend waited while the
# writer encoded its next statement and committed its last (the cores were a quarter
# idle); with two, one group's statement waits in Postgres on the other's row locks and
# starts as soon as it commits: 11,317 events/s against 9,765 in a run of 100 batches
# (bench/README); three brought the lock waits back.
WRITERS = 2
# Events a group writes at most (a batch larger than that alone): with many clients a
# group would otherwise grow without bound, and with it the statement, its memory and
# the time it holds its row locks.
GROUP_EVENTS = 4 * ingest.MAX_BATCH


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch ready for the write: what the rules decided, and for its candidates the
    rows of the write statement and what the cascade after it needs."""

    screened: Screened
    catalog: Catalog
    now: datetime
    rows: EventRows
    cascade: UsageCascade | None  # None when no event is left to write


@dataclass(slots=True)
class _Waiting:
    batch: Prepared
    done: asyncio.Future[list[EventOutcome]]


class IngestWriter:
    """One per process: `prepare` a batch on any connection, then `record` it. Up to
    `writers` groups are written at once, each in its own transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        partitions: Partitions,
        writers: int = WRITERS,
        group_events: int = GROUP_EVENTS,
        known: KnownAccounts | None = None,
    ) -> None:
        """`known`: the process's accounts, which batches read theirs through (else from
        the database each time)."""
        self._pool = pool
        self._partitions = partitions
        self._known = known
        self._writers = writers
        self._group_events = group_events
        self._waiting: list[_Waiting] = []
        self._draining: set[asyncio.Task[None]] = set()

    async def prepare(
        self,
        conn: asyncpg.Connection,
        principal: Principal,
        events: list[UsageEvent],
        catalog: Catalog,
        now: datetime,
    ) -> Prepared:
        """Everything of `events` that needs no lock: their partitions (created if missing,
        so `conn` must not be in a transaction), their accounts and the rules, what the
        cascade reads. Raises BatchTooLarge past MAX_BATCH events."""
        if len(events) > ingest.MAX_BATCH:
            raise ingest.BatchTooLarge
        window = self._partitions.window
        await self._partitions.ensure(conn, ingest.months_of(events, now, window))
        screened = await ingest.screen(conn, principal, events, catalog, now, window, self._known)
        candidates = screened.candidates
        cascade = None
        if candidates:
            cascade = await ingest.cascade_of(conn, candidates, catalog, now)
        rows = ingest.rows_of(candidates, catalog)
        return Prepared(screened, catalog, now, rows, cascade)

    async def record(self, batch: Prepared) -> list[EventOutcome]:
        """Write `batch` with whatever other batches are ready; every event's outcome, in
        input order, once its group has committed."""
        if batch.cascade is None:
            return batch.screened.outcomes_with(())
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(batch, done))
        if len(self._draining) < self._writers:
            # The writer runs in the context of the request that started it (its request
            # id on the group's statements); /events notes no changes for its request.
            self._draining.add(asyncio.create_task(self._drain()))
        return batch.screened.outcomes_with(await done)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await self._write_group(self._next_group())
        except asyncio.CancelledError:  # the process stops
            for waiting in self._waiting:
                _fail(waiting, RuntimeError("the ingest writer stopped"))
            self._waiting.clear()
            raise
        finally:
            self._draining.discard(cast(asyncio.Task[None], asyncio.current_task()))

    def _next_group(self) -> list[_Waiting]:
        """The first waiting batch, and after it, in order, those read against the same
        catalog while the group stays within `group_events` events to write."""
        first, *rest = self._waiting
        group, left, size = [first], [], len(first.batch.screened.candidates)
        for waiting in rest:
            more = len(waiting.batch.screened.candidates)
            if waiting.batch.catalog is first.batch.catalog and size + more <= self._group_events:
                group.append(waiting)
                size += more
            else:
                left.append(waiting)
        self._waiting = left
        return group

    async def _write_group(self, group: list[_Waiting]) -> None:
        try:
            decided = await self._write([w.batch for w in group])
        except asyncio.CancelledError:
            for waiting in group:
                _fail(waiting, RuntimeError("the ingest writer stopped"))
            raise
        except Exception as exc:
            if len(group) == 1 or db.unavailable(exc):
                for waiting in group:
                    _fail(waiting, exc)
                return
            for waiting in group:  # one batch's failure must fail it alone
                await self._write_group([waiting])
            return
        for waiting, outcomes in zip(group, decided, strict=True):
            if not waiting.done.done():  # its request may have gone
                waiting.done.set_result(outcomes)

    async def _write(self, batches: list[Prepared]) -> list[list[EventOutcome]]:
        """The batches' candidates' outcomes, each batch's in its order, written in one
        transaction."""
        merged = _Merged.of(batches)
        now = max(b.now for b in batches)
        cascades = [b.cascade for b in batches if b.cascade is not None]
        async with self._pool.acquire() as conn, conn.transaction():
            written = await ingest.write(
                conn,
                merged.candidates,
                batches[0].catalog,
                now,
                UsageCascade.merged(cascades),
                merged.rows,
            )
        # The outcomes are made after the commit: nothing more while the locks are held.
        return merged.split(written.outcomes(merged.candidates), batches)


@dataclass(slots=True)
class _Merged:
    """Batches' candidates as one write: each key once, at its first occurrence; where a
    later batch repeats it, that candidate takes the first one's outcome as a duplicate."""

    candidates: list[Candidate]
    rows: EventRows
    # For each batch, for each of its candidates: its position in `candidates`, and
    # whether it repeats a key an earlier batch holds.
    places: list[list[tuple[int, bool]]]

    @classmethod
    def of(cls, batches: list[Prepared]) -> _Merged:
        if len(batches) == 1:
            only = batches[0].screened.candidates
            return cls(only, batches[0].rows, [[(i, False) for i in range(len(only))]])
        merged = cls([], EventRows(), [])
        first: dict[Key, int] = {}
        for batch in batches:
            merged._add(batch, first)
        return merged

    def _add(self, batch: Prepared, first: dict[Key, int]) -> None:
        keys = batch.screened.keys
        candidates = batch.screened.candidates
        if first.keys().isdisjoint(keys):  # nearly always: append the batch whole
            start = len(self.candidates)
            first.update(zip(keys, range(start, start + len(keys)), strict=True))
            self.candidates.extend(candidates)
            self.rows.rows.extend(batch.rows.rows)
            self.places.append([(start + i, False) for i in range(len(keys))])
            return
        places: list[tuple[int, bool]] = []
        kept: list[int] = []
        for i, key in enumerate(keys):
            at = first.get(key)
            if at is not None:
                places.append((at, True))
                continue
            at = first[key] = len(self.candidates) + len(kept)
            places.append((at, False))
            kept.append(i)
        self.candidates.extend(candidates[i] for i in kept)
        self.rows.rows.extend(batch.rows.rows[i] for i in kept)
        self.places.append(places)

    def split(
        self, written: list[EventOutcome], batches: list[Prepared]
    ) -> list[list[EventOutcome]]:
        """Each batch's candidates' outcomes from those of the merged candidates."""
        return [
            [
                _repeated(c, written[at]) if repeat else written[at]
                for c, (at, repeat) in zip(batch.screened.candidates, places, strict=True)
            ]
            for batch, places in zip(batches, self.places, strict=True)
        ]


def _repeated(candidate: Candidate, first: EventOutcome) -> EventOutcome:
    """A later batch's event with the key of `first`: refused as it was (too many groups),
    else a duplicate (of it, or of what it duplicated)."""
    if first.status is EventStatus.REJECTED:
        return EventOutcome(candidate.event, EventStatus.REJECTED, first.reason)
    return EventOutcome(candidate.event, EventStatus.DUPLICATE)


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(exc)
