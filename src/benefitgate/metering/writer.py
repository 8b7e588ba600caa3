"""Group commit of ingest in lanes: the batches a process has ready at one moment are
written in one transaction and one write statement per lane, each batch keeping its own
per-event outcomes.

Why groups: concurrent batches of one process share counters, so each one's write waited
on the row locks of another, which held them until the event loop, busy with other
requests, got round to its COMMIT. With groups, those waits halved and Postgres spent less
CPU an event in 6 of the 8 pairs measured (bench/README).

Why lanes: two groups written at once still shared most of their counters, so one group's
statement spent a quarter of its time waiting for the other's row locks. A lane holds the
events of a fixed share of the accounts (by account id), so two lanes never write the same
rows: the write statement alone took 36,000 events/s on two lanes against 25,000 to
27,000 on two or four connections writing whole batches (bench/README). Each lane writes
one group at a time, and every replica splits accounts into the same lanes, so replicas
wait only on their own lane's rows. An event's lane is its account's: every row a write
touches (counters, groups, unique values, thresholds, achievements) belongs to one
account, so a lane's transaction reads and writes its accounts' rows only.

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
  that one batch's failure fails it alone;
- a batch whose accounts fall in several lanes is written in one transaction per lane,
  and answered once every lane has written its part: if one part fails, the request
  fails, and the parts other lanes committed are duplicates on its retry (as when a
  response is lost after a commit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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

__all__ = ["GROUP_EVENTS", "LANES", "IngestWriter", "Prepared"]

Key = tuple[UUID, str, str]  # account, source, event id

# Lanes a process writes in, each one group at a time. With one, Postgres's writing backend
# waited while the writer encoded its next statement and committed its last (the cores were
# a quarter idle); three lanes took Postgres more CPU an event than two, and no more events
# a second (the statement alone, bench/README).
LANES = 2
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

    @property
    def accounts(self) -> set[UUID]:
        """The accounts of the events left for the write: all it may change (every row a
        usage write touches is of its event's account)."""
        return {c.account.id for c in self.screened.candidates}

    def changed(self, outcomes: Sequence[EventOutcome]) -> set[UUID]:
        """The accounts the write changed, given every event's outcome (`record`'s):
        those with an event accepted."""
        screened = self.screened
        decided = (o for o, ruled in zip(outcomes, screened.outcomes, strict=True) if ruled is None)
        accepted = zip(screened.candidates, decided, strict=True)
        return {c.account.id for c, o in accepted if o.status is EventStatus.ACCEPTED}


@dataclass(frozen=True, slots=True)
class _Part:
    """What one lane writes of a batch: its candidates, in the batch's order, with their
    keys, their rows and the cascade of their accounts."""

    candidates: list[Candidate]
    keys: list[Key]
    rows: EventRows
    cascade: UsageCascade
    catalog: Catalog
    now: datetime


@dataclass(slots=True)
class _Waiting:
    part: _Part
    done: asyncio.Future[list[EventOutcome]]


class IngestWriter:
    """One per process: `prepare` a batch on any connection, then `record` it. Each lane
    writes one group at a time, in its own transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        partitions: Partitions,
        lanes: int = LANES,
        group_events: int = GROUP_EVENTS,
        known: KnownAccounts | None = None,
    ) -> None:
        """`known`: the process's accounts, which batches read theirs through (else from
        the database each time)."""
        self._pool = pool
        self._partitions = partitions
        self._known = known
        self._lanes = lanes
        self._group_events = group_events
        self._waiting: list[list[_Waiting]] = [[] for _ in range(lanes)]
        self._draining: list[asyncio.Task[None] | None] = [None] * lanes

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
        input order, once each lane has committed its part. The events are counted in the
        metrics as they are decided: each lane's part when it commits (even if the batch
        then fails), the events refused before any write when the batch succeeds."""
        if batch.cascade is None:
            _count_refusals(batch)
            return batch.screened.outcomes_with(())
        parts, places = _parts_of(batch, batch.cascade, self._lanes)
        answers = await asyncio.gather(
            *(self._written(lane, part) for lane, part in parts.items()), return_exceptions=True
        )
        failures = [a for a in answers if isinstance(a, BaseException)]
        if failures:
            # A lost database first: it answers 503, which tells the client to retry, as
            # it must for the parts no lane committed.
            raise next((f for f in failures if db.unavailable(f)), failures[0])
        by_lane = dict(zip(parts, cast(list[list[EventOutcome]], answers), strict=True))
        _count_refusals(batch)
        return batch.screened.outcomes_with([by_lane[lane][i] for lane, i in places])

    def _written(self, lane: int, part: _Part) -> asyncio.Future[list[EventOutcome]]:
        """`part` queued on `lane`: its candidates' outcomes once its group has committed."""
        done = asyncio.get_running_loop().create_future()
        self._waiting[lane].append(_Waiting(part, done))
        if self._draining[lane] is None:
            # The writer runs in the context of the request that started it (its request
            # id on the group's statements); /events works out what each request's batch
            # changed from its outcomes (`Prepared.changed`).
            self._draining[lane] = asyncio.create_task(self._drain(lane))
        return done

    async def _drain(self, lane: int) -> None:
        waiting = self._waiting[lane]
        try:
            while waiting:
                await self._write_group(self._next_group(waiting))
        except asyncio.CancelledError:  # the process stops
            _fail_all(waiting, RuntimeError("the ingest writer stopped"))
            waiting.clear()
            raise
        finally:
            self._draining[lane] = None

    def _next_group(self, waiting: list[_Waiting]) -> list[_Waiting]:
        """The first of `waiting` and those after it, in order, while they were read
        against the same catalog and the group stays within `group_events` events (taken
        out of `waiting`). A part that does not fit ends the group, so that no part is
        written before one queued ahead of it: each lane writes in the order the batches
        came, and so every lane in the same order."""
        first = waiting[0]
        size = len(first.part.candidates)
        taken = 1
        for queued in waiting[1:]:
            size += len(queued.part.candidates)
            if queued.part.catalog is not first.part.catalog or size > self._group_events:
                break
            taken += 1
        group = waiting[:taken]
        del waiting[:taken]
        return group

    async def _write_group(self, group: list[_Waiting]) -> None:
        try:
            decided = await self._write([w.part for w in group])
        except asyncio.CancelledError:
            _fail_all(group, RuntimeError("the ingest writer stopped"))
            raise
        except Exception as exc:
            if len(group) == 1 or db.unavailable(exc):
                _fail_all(group, exc)
                return
            await self._write_one_by_one(group)  # one batch's failure must fail it alone
            return
        for waiting, outcomes in zip(group, decided, strict=True):
            ingest.count_outcomes(outcomes)  # committed, whether or not its batch fails
            if not waiting.done.done():  # its request may have gone
                waiting.done.set_result(outcomes)

    async def _write_one_by_one(self, group: list[_Waiting]) -> None:
        try:
            for waiting in group:
                await self._write_group([waiting])
        except asyncio.CancelledError:  # the parts not yet written fail with it
            _fail_all(group, RuntimeError("the ingest writer stopped"))
            raise

    async def _write(self, parts: list[_Part]) -> list[list[EventOutcome]]:
        """The parts' candidates' outcomes, each part's in its order, written in one
        transaction."""
        merged = _Merged.of(parts)
        now = max(p.now for p in parts)
        async with self._pool.acquire() as conn, conn.transaction():
            written = await ingest.write(
                conn,
                merged.candidates,
                parts[0].catalog,
                now,
                UsageCascade.merged([p.cascade for p in parts]),
                merged.rows,
            )
        # The outcomes are made after the commit: nothing more while the locks are held.
        return merged.split(written.outcomes(merged.candidates), parts)


def _parts_of(
    batch: Prepared, cascade: UsageCascade, lanes: int
) -> tuple[dict[int, _Part], list[tuple[int, int]]]:
    """`batch`'s candidates by lane (their account's id modulo `lanes`), and for each
    candidate its lane and its place in that lane's part."""
    candidates, keys, rows = batch.screened.candidates, batch.screened.keys, batch.rows.rows
    lane_of = [c.account.id.int % lanes for c in candidates]
    if len(set(lane_of)) == 1:  # one lane: the batch whole
        only = _Part(candidates, keys, batch.rows, cascade, batch.catalog, batch.now)
        return {lane_of[0]: only}, [(lane_of[0], i) for i in range(len(candidates))]
    chosen: dict[int, list[int]] = {}
    places = []
    for i, lane in enumerate(lane_of):
        taken = chosen.setdefault(lane, [])
        places.append((lane, len(taken)))
        taken.append(i)
    parts = {}
    for lane, at in chosen.items():
        accounts = {candidates[i].account.id for i in at}
        parts[lane] = _Part(
            [candidates[i] for i in at],
            [keys[i] for i in at],
            EventRows([rows[i] for i in at]),
            cascade.of_accounts(accounts),
            batch.catalog,
            batch.now,
        )
    return parts, places


@dataclass(slots=True)
class _Merged:
    """Parts' candidates as one write: each key once, at its first occurrence; where a
    later part repeats it, that candidate takes the first one's outcome as a duplicate."""

    candidates: list[Candidate]
    rows: EventRows
    # For each part, for each of its candidates: its position in `candidates`, and
    # whether it repeats a key an earlier part holds.
    places: list[list[tuple[int, bool]]]

    @classmethod
    def of(cls, parts: list[_Part]) -> _Merged:
        if len(parts) == 1:
            only = parts[0].candidates
            return cls(only, parts[0].rows, [[(i, False) for i in range(len(only))]])
        merged = cls([], EventRows(), [])
        first: dict[Key, int] = {}
        for part in parts:
            merged._add(part, first)
        return merged

    def _add(self, part: _Part, first: dict[Key, int]) -> None:
        keys = part.keys
        candidates = part.candidates
        if first.keys().isdisjoint(keys):  # nearly always: append the part whole
            start = len(self.candidates)
            first.update(zip(keys, range(start, start + len(keys)), strict=True))
            self.candidates.extend(candidates)
            self.rows.rows.extend(part.rows.rows)
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
        self.rows.rows.extend(part.rows.rows[i] for i in kept)
        self.places.append(places)

    def split(self, written: list[EventOutcome], parts: list[_Part]) -> list[list[EventOutcome]]:
        """Each part's candidates' outcomes from those of the merged candidates."""
        return [
            [
                _repeated(c, written[at]) if repeat else written[at]
                for c, (at, repeat) in zip(part.candidates, places, strict=True)
            ]
            for part, places in zip(parts, self.places, strict=True)
        ]


def _repeated(candidate: Candidate, first: EventOutcome) -> EventOutcome:
    """A later batch's event with the key of `first`: refused as it was (too many groups),
    else a duplicate (of it, or of what it duplicated)."""
    if first.status is EventStatus.REJECTED:
        return EventOutcome(candidate.event, EventStatus.REJECTED, first.reason)
    return EventOutcome(candidate.event, EventStatus.DUPLICATE)


def _count_refusals(batch: Prepared) -> None:
    """Count in the metrics the outcomes of `batch`'s events refused before any write."""
    ingest.count_outcomes([o for o in batch.screened.outcomes if o is not None])


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(exc)


def _fail_all(group: list[_Waiting], exc: BaseException) -> None:
    """Fail every part of `group` not answered yet."""
    for waiting in group:
        _fail(waiting, exc)
