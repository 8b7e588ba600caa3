"""Running an import: rows read, checked and written a batch per transaction, so that a
batch's accounts and their audit entries and events commit together and a rerun resumes
where an interrupted run stopped. Valid rows land; refused rows are reported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TypeVar, cast

import asyncpg

from benefitgate.accounts import bulk as accounts
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

__all__ = ["Report", "import_accounts", "import_subscriptions"]

BATCH = 1000
T = TypeVar("T")
Progress = Callable[[int], None]  # told how many rows were handled since it was last told


@dataclass
class Report:
    created: int = 0
    unchanged: int = 0  # already there: an earlier run, or another writer
    rejected: list[RowError] = field(default_factory=list)


def _batches(rows: Iterator[T]) -> Iterator[list[T]]:
    while batch := list(islice(rows, BATCH)):
        yield batch


async def import_accounts(
    conn: asyncpg.Connection, path: Path, change: ChangeContext, dry_run: bool, progress: Progress
) -> Report:
    """Create the file's accounts that do not exist yet (by external_id)."""
    report, seen = Report(), set[str]()
    rows = read_rows(path, ACCOUNT_COLUMNS, OPTIONAL_ACCOUNT_COLUMNS)
    for batch in _batches(rows):
        wanted = []
        for row in batch:
            made = row if isinstance(row, RowError) else account_of(row)
            if isinstance(made, RowError):
                report.rejected.append(made)
            elif made.external_id in seen:
                report.rejected.append(_duplicate(row))
            else:
                seen.add(made.external_id)
                wanted.append((row, made))
        named = {p for _, a in wanted for p in a.partner_ids}
        unknown = await accounts.unknown_partners(conn, named) if named else set()
        valid = []
        for row, account in wanted:
            if unknown & set(account.partner_ids):
                report.rejected.append(RowError(_line(row), "partner_ids", "unknown partner"))
            else:
                valid.append(account)
        created = await _write(conn, dry_run, partial(accounts.create_many, conn, change, valid))
        report.created += len(created)
        report.unchanged += len(valid) - len(created)
        progress(len(batch))
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
    rows = read_rows(path, SUBSCRIPTION_COLUMNS, OPTIONAL_SUBSCRIPTION_COLUMNS)
    for batch in _batches(rows):
        wanted = []
        for row in batch:
            made = row if isinstance(row, RowError) else subscription_of(row, catalog, change.at)
            if isinstance(made, RowError):
                report.rejected.append(made)
            elif made[0] in seen:
                report.rejected.append(_duplicate(row))
            else:
                seen.add(made[0])
                wanted.append((row, made))
        known = await subscriptions.accounts_by_external_id(conn, [m[0] for _, m in wanted])
        for row, (external_id, _) in wanted:
            if external_id not in known:
                report.rejected.append(RowError(_line(row), "external_id", "no such account"))
        valid = [(known[e], s) for _, (e, s) in wanted if e in known]
        subscribed = await _write(
            conn, dry_run, partial(subscriptions.create_many, conn, change, valid)
        )
        report.created += len(subscribed)
        report.unchanged += len(valid) - len(subscribed)
        progress(len(batch))
    return report


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
