"""Running an import: rows read, checked and written a batch per transaction, so that a
batch's objects and their audit entries and events commit together and a rerun resumes
where an interrupted run stopped. Valid rows land; refused rows are reported.

A worker thread reads and checks the next batch while Postgres writes the current one:
parsing and writing then take a core each instead of waiting for each other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Generic, TypeVar, cast
from uuid import UUID

import asyncpg

from benefitgate.accounts import bulk as accounts
from benefitgate.accounts.models import NewAccount, Subscription
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext
from benefitgate.importing.csvfile import Row, RowError, read_rows
from benefitgate.importing.rows import (
    ACCOUNT_COLUMNS,
    OPTIONAL_ACCOUNT_COLUMNS,
    OPTIONAL_SUBSCRIPTION_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    account_of,
    subscription_of,
)
from benefitgate.subscriptions import bulk as subscriptions

__all__ = ["BATCH", "Report", "import_accounts", "import_subscriptions"]

BATCH = 5000  # rows per transaction: large enough that round trips do not count
T = TypeVar("T")
V = TypeVar("V")
Progress = Callable[[int], None]  # told how many rows were handled since it was last told


@dataclass
class Report:
    created: int = 0
    unchanged: int = 0  # already there: an earlier run, or another writer
    rejected: list[RowError] = field(default_factory=list)  # in line order once done


@dataclass(frozen=True, slots=True)
class _Checked(Generic[V]):
    """A batch's rows that passed the checks needing no database, by line."""

    size: int
    wanted: list[tuple[int, V]]


async def import_accounts(
    conn: asyncpg.Connection, path: Path, change: ChangeContext, dry_run: bool, progress: Progress
) -> Report:
    """Create the file's accounts that do not exist yet (by external_id)."""
    report, seen = Report(), set[str]()

    def check(batch: list[Row | RowError]) -> _Checked[NewAccount]:
        wanted = []
        for row in batch:
            made = row if isinstance(row, RowError) else account_of(row)
            if isinstance(made, RowError):
                report.rejected.append(made)
            elif made.external_id in seen:
                report.rejected.append(_duplicate(row))
            else:
                seen.add(cast(str, made.external_id))
                wanted.append((row.line, made))
        return _Checked(len(batch), wanted)

    async def write(batch: _Checked[NewAccount]) -> None:
        named = {p for _, a in batch.wanted for p in a.partner_ids}
        unknown = await accounts.unknown_partners(conn, named) if named else set()
        valid = []
        for line, account in batch.wanted:
            if unknown.isdisjoint(account.partner_ids):
                valid.append(account)
            else:
                report.rejected.append(RowError(line, "partner_ids", "unknown partner"))
        created = await _write(conn, dry_run, partial(accounts.create_many, conn, change, valid))
        report.created += len(created)
        report.unchanged += len(valid) - len(created)
        progress(batch.size)

    rows = read_rows(path, ACCOUNT_COLUMNS, OPTIONAL_ACCOUNT_COLUMNS)
    await _pipelined(map(check, _batches(rows)), write)
    report.rejected.sort(key=_line)
    return report


async def import_subscriptions(
    conn: asyncpg.Connection,
    path: Path,
    change: ChangeContext,
    catalog: Catalog,
    dry_run: bool,
    progress: Progress,
) -> Report:
    """Subscribe the accounts named by external_id that have no subscription yet."""
    report, seen = Report(), set[str]()

    def check(batch: list[Row | RowError]) -> _Checked[tuple[str, Subscription]]:
        wanted = []
        for row in batch:
            made = row if isinstance(row, RowError) else subscription_of(row, catalog, change.at)
            if isinstance(made, RowError):
                report.rejected.append(made)
            elif made[0] in seen:
                report.rejected.append(_duplicate(row))
            else:
                seen.add(made[0])
                wanted.append((row.line, made))
        return _Checked(len(batch), wanted)

    async def write(batch: _Checked[tuple[str, Subscription]]) -> None:
        known = await subscriptions.accounts_by_external_id(conn, [e for _, (e, _) in batch.wanted])
        valid: list[tuple[UUID, Subscription]] = []
        for line, (external_id, sub) in batch.wanted:
            if external_id in known:
                valid.append((known[external_id], sub))
            else:
                report.rejected.append(RowError(line, "external_id", "no such account"))
        subscribed = await _write(
            conn, dry_run, partial(subscriptions.create_many, conn, change, valid)
        )
        report.created += len(subscribed)
        report.unchanged += len(valid) - len(subscribed)
        progress(batch.size)

    rows = read_rows(path, SUBSCRIPTION_COLUMNS, OPTIONAL_SUBSCRIPTION_COLUMNS)
    await _pipelined(map(check, _batches(rows)), write)
    report.rejected.sort(key=_line)
    return report


def _batches(rows: Iterator[T]) -> Iterator[list[T]]:
    while batch := list(islice(rows, BATCH)):
        yield batch


async def _pipelined(batches: Iterator[T], write: Callable[[T], Awaitable[None]]) -> None:
    """Write each batch while a worker thread produces the next one. Only that thread ever
    advances `batches`, one step at a time; an error of either side stops the import after
    the worker's step in flight has returned (it may still be touching shared state)."""
    following = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await following) is not None:
            following = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            await write(batch)
    finally:
        await asyncio.wait([following])
        if not following.cancelled():
            following.exception()  # retrieved: the error that stopped the import wins


class _RolledBack(Exception):
    """Rolls a dry run's batch back after it ran, carrying what it did."""

    def __init__(self, result: object) -> None:
        self.result = result


async def _write(conn: asyncpg.Connection, dry_run: bool, write: Callable[[], Awaitable[T]]) -> T:
    """Run `write` in a transaction of its own; in a dry run, roll it back after it ran,
    so that what it reports is what a real run would do."""
    try:
        async with conn.transaction():
            result = await write()
            if dry_run:
                raise _RolledBack(result)
    except _RolledBack as rolled:
        return cast(T, rolled.result)
    return result


def _line(row: Row | RowError) -> int:
    return row.line


def _duplicate(row: Row | RowError) -> RowError:
    return RowError(_line(row), "external_id", "appears earlier in the file")
