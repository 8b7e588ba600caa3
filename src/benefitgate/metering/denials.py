"""Denials of entitlement checks, counted in memory and written in batches; allowed
checks of a feature likewise, as the benefit's use (adoption tips, renewal notes).

A check answers without writing: its denial is added to this process's tally, and
`flush` writes the tally in one transaction (each account, feature and reason's count,
first and last time, and the upgrade evidence of the accounts a higher tier would
answer). The app flushes every FLUSH_SECONDS and once more at shutdown, after the last
request; a flush that fails keeps its tally for the next one. What a process killed
outright had not flushed yet (at most FLUSH_SECONDS of denials) is lost: denials are
evidence for upgrade suggestions, not a ledger (and uses, evidence of adoption).

A denial that is upgrade evidence marks its account for the suggestion job at the next
flush, unless this process marked it for the same feature within MARK_EVERY: such a
repeat waits, in memory, for that time to pass (or for the last flush, at shutdown). Each
mark makes the job recompute the account, so an account denied every second was
recomputed every tick (30 s), which on busy checks made the job's recomputes the costliest
work on the machine; what a repeat adds (the count and last time in the suggestion's
reason) can wait, while a feature newly asked for is new evidence and goes at once. The
counts themselves are written at every flush.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from benefitgate.adoption import service as adoption
from benefitgate.clock import Clock
from benefitgate.metering import repository
from benefitgate.metering.models import CheckReason
from benefitgate.usage import evidence as evidence_marks

__all__ = ["FLUSH_SECONDS", "MARK_EVERY", "UPGRADE_EVIDENCE", "Denials"]

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
MARK_EVERY = timedelta(minutes=5)  # a repeated denial marks its account at most this often
STATEMENT_ROWS = 500  # rows a statement of a flush, about (see `_statements`)
# Denials a higher tier would answer: evidence for an upgrade suggestion.
UPGRADE_EVIDENCE = frozenset({CheckReason.NOT_IN_TIER, CheckReason.EXCLUDED})

DenialKey = tuple[UUID, str, str]  # account, feature or metric, reason
UseKey = tuple[UUID, str]  # account, feature
_K = TypeVar("_K", DenialKey, UseKey)
_L = TypeVar("_L", UUID, UseKey)
_Key = TypeVar("_Key")
_V = TypeVar("_V")


@dataclass(slots=True)
class _Tally:
    count: int
    first_at: datetime
    last_at: datetime


class Denials:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock
        self._tally: dict[DenialKey, _Tally] = {}
        # Upgrade evidence, (account, feature): its latest denial. Due at the next flush...
        self._evidence: dict[UseKey, datetime] = {}
        # ...or, where this process marked it within MARK_EVERY, once that time has passed.
        self._waiting: dict[UseKey, datetime] = {}
        # (Account, feature): when this process last marked it, oldest first.
        self._marked: dict[UseKey, datetime] = {}
        self._uses: dict[UseKey, _Tally] = {}
        self._flushing = asyncio.Lock()

    def add(self, account_id: UUID, name: str, reason: CheckReason, at: datetime) -> None:
        _count(self._tally, (account_id, name, reason.value), 1, at, at)
        if reason in UPGRADE_EVIDENCE:
            key = (account_id, name)
            _latest(self._waiting if key in self._marked else self._evidence, key, at)

    def used(self, account_id: UUID, feature: str, at: datetime) -> None:
        """An allowed check of a feature: the account used it."""
        _count(self._uses, (account_id, feature), 1, at, at)

    async def flush(self, *, last: bool = False) -> None:
        """Write the tally so far in one transaction, with the marks that are due (all of
        them when `last`); on failure it is kept for the next."""
        async with self._flushing:
            now = self._clock.now()
            tally, self._tally = self._tally, {}
            evidence, self._evidence = self._due_evidence(now, last), {}
            uses, self._uses = self._uses, {}
            if not tally and not uses and not evidence:
                return
            marks: dict[UUID, datetime] = {}
            for (account_id, _), at in evidence.items():
                _latest(marks, account_id, at)
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    for rows in _statements(tally, _first, _tally_row):
                        await repository.record_denials(conn, rows)
                    # Each denial has its request's own instant: a statement per instant
                    # was one per account, every second.
                    for accounts in _statements(marks, _itself, _pair):
                        await evidence_marks.mark_each(conn, dict(accounts))
                    for used in _statements(uses, _first, _tally_row):
                        await adoption.record_uses(conn, used)
            except BaseException:
                self._merge_back(tally, evidence, uses)
                raise
            for key in evidence:  # moved to the end: the order stays by time
                self._marked.pop(key, None)
                self._marked[key] = now

    def _due_evidence(self, now: datetime, last: bool) -> dict[UseKey, datetime]:
        """The evidence due now: denials of features not marked within MARK_EVERY, and
        (when `last`) every one waiting. Forgets marks older than that, oldest first, so a
        flush costs what it writes, however much evidence waits."""
        since = now - MARK_EVERY
        expired = [k for k, _ in takewhile(lambda m: m[1] <= since, self._marked.items())]
        for key in expired:
            del self._marked[key]
        for key in list(self._waiting) if last else expired:
            at = self._waiting.pop(key, None)
            if at is not None:
                _latest(self._evidence, key, at)
        return self._evidence

    async def run(self, seconds: float = FLUSH_SECONDS) -> None:
        """Flush every `seconds` until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.flush()
            # Any failure: a connection the server ended under the pool surfaces as
            # asyncpg's InterfaceError or InternalClientError, not a PostgresError, and
            # escaping it would end the flushes for good, the tallies growing unwritten.
            except Exception:
                log.warning("denials not written; kept for the next flush", exc_info=True)

    def _merge_back(
        self,
        tally: dict[DenialKey, _Tally],
        evidence: dict[UseKey, datetime],
        uses: dict[UseKey, _Tally],
    ) -> None:
        for key, old in tally.items():
            _count(self._tally, key, old.count, old.first_at, old.last_at)
        for use, old in uses.items():
            _count(self._uses, use, old.count, old.first_at, old.last_at)
        for denied, at in evidence.items():
            _latest(self._evidence, denied, at)


def _statements(
    tally: Mapping[_Key, _V],
    account_of: Callable[[_Key], UUID],
    row: Callable[[_Key, _V], tuple[Any, ...]],
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of `tally` (each key's, its account first) in statements of about
    STATEMENT_ROWS rows.

    Accounts come in uuid order, and an account's rows are never split between two
    statements: every flush takes a table's row locks in one order (accounts ascending,
    then each statement's own `order by` within an account), so concurrent flushes of
    several replicas still cannot deadlock. And each statement's rows are built as it
    goes, so one step of the event loop that serves checks handles one statement's rows:
    one statement of a whole second's tally held the loop for up to 17 ms, and building
    and sorting all of a second's rows before the first statement held it for about 2 ms
    in every flush at 5,000 checks a second (`bench/consume_check.py`)."""
    keys = sorted(tally, key=lambda key: account_of(key).int)  # Postgres's uuid order
    start = 0
    while start < len(keys):
        end = min(start + STATEMENT_ROWS, len(keys))
        while end < len(keys) and account_of(keys[end]) == account_of(keys[end - 1]):
            end += 1
        yield [row(key, tally[key]) for key in keys[start:end]]
        start = end


def _first(key: tuple[Any, ...]) -> UUID:
    account: UUID = key[0]
    return account


def _itself(account: UUID) -> UUID:
    return account


def _tally_row(key: tuple[Any, ...], tally: _Tally) -> tuple[Any, ...]:
    """A key's fields, its count, first and last time."""
    return (*key, tally.count, tally.first_at, tally.last_at)


def _pair(account: UUID, at: datetime) -> tuple[UUID, datetime]:
    return account, at


def _count(tally: dict[_K, _Tally], key: _K, count: int, first: datetime, last: datetime) -> None:
    found = tally.get(key)
    if found is None:
        tally[key] = _Tally(count, first, last)
    else:
        found.count += count
        found.first_at, found.last_at = min(found.first_at, first), max(found.last_at, last)


def _latest(instants: dict[_L, datetime], key: _L, at: datetime) -> None:
    found = instants.get(key)
    if found is None or at > found:
        instants[key] = at
