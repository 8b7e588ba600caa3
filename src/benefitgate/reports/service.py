"""Scheduled impact reports: the scheduler's job, and reading an account's reports.

Each closed period (calendar-aligned, `months` long) owes every account with a
subscription in it one report. The job works from what is owed, not from ticks, so after
downtime it catches up on the last `backfill` periods; a batch of accounts per
transaction reads their impact summaries (five statements for the whole batch), stores
the reports and writes an `impact.report_ready` event for each report it stored. Exactly
once per account and period comes from the primary key: a report a concurrent run stored
first is left as it is and gets no second event. Memory stays bounded by the batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.events import outbox as events
from benefitgate.impact import service as impact
from benefitgate.impact.models import DayRange
from benefitgate.reports import periods, repository
from benefitgate.reports.document import document_of
from benefitgate.reports.models import Report

__all__ = [
    "BATCH",
    "EVENT",
    "KIND",
    "generate_due",
    "reports_of",
    "roll_back_schedule",
    "set_schedule",
]

EVENT = "impact.report_ready"
SCHEDULE_EVENT = "impact.report_schedule_set"
SET_ACTION = "impact_report.schedule_set"
KIND = "impact_report_schedule"
BATCH = 200  # accounts per transaction


async def generate_due(
    pool: asyncpg.Pool,
    catalog: Callable[[], Awaitable[Catalog]],
    months: int,
    backfill: int,
    now: datetime,
) -> int:
    """Store every report owed for the last `backfill` closed periods of each period length
    in use (`months` for accounts without a schedule of their own; 0: none); returns how
    many this run stored."""
    async with pool.acquire() as conn:
        lengths = ({months} | await repository.cadences(conn)) - {0}
    snapshot = await catalog()
    made = 0
    for length in sorted(lengths):
        for period in periods.closed(now, length, backfill):
            while True:
                async with pool.acquire() as conn, conn.transaction():
                    owed = await repository.due_accounts(conn, period, length, months, BATCH)
                    made += await _report(conn, owed, period, snapshot, now)
                if len(owed) < BATCH:
                    break
    return made


async def _report(
    conn: asyncpg.Connection, owed: list[UUID], period: DayRange, catalog: Catalog, now: datetime
) -> int:
    found = await accounts.accounts_by_ids(conn, owed)
    # Limits and grants as they stood at the period's end, not today.
    at = datetime.combine(period.end + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)
    summaries = await impact.summaries_on(conn, [found[a] for a in owed], period, catalog, at)
    documents = [(a, document_of(found[a].name, summaries[a], catalog)) for a in owed]
    stored = set(await repository.insert_many(conn, period, now, documents))
    ready = [(a, _payload(doc)) for a, doc in documents if a in stored]
    await events.enqueue_many(conn, EVENT, ready)
    return len(ready)


def _payload(doc: dict[str, Any]) -> dict[str, Any]:
    return {"from": doc["from"], "to": doc["to"], "valueDelivered": doc["valueDelivered"]}


async def set_schedule(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    months: int | None,
    rollback_of: int | None = None,
) -> AuditEntry | None:
    """Give the account its own report period (`months`, 0 for no reports) or, with None,
    the service's again; audited, with an `impact.report_schedule_set` event. Setting the
    period it has already changes nothing, records nothing and returns None. Reports
    already stored stay. Raises InvalidChange or TargetNotFound."""
    if months is not None and months not in (0, *periods.CADENCES):
        raise InvalidChange("months", "1, 2, 3, 4, 6 or 12 (a year's divisor), 0, or null")
    if not await accounts.accounts_by_ids(conn, [account_id]):
        raise TargetNotFound("account")
    before = await repository.schedule_of(conn, account_id)
    return await _put(conn, change, account_id, (before, months), rollback_of)


async def _put(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    months: tuple[int | None, int | None],
    rollback_of: int | None,
) -> AuditEntry | None:
    before, after = months
    if before == after:
        return None
    await repository.set_schedule(conn, account_id, after)
    target = Target(KIND, str(account_id), account_id)
    entry = await audit.record(
        conn,
        change,
        SET_ACTION if rollback_of is None else "rollback",
        target,
        {"months": before},
        {"months": after},
        rollback_of,
    )
    payload = {"months": after, "auditEntryId": entry.id}
    await events.enqueue(conn, SCHEDULE_EVENT, account_id, payload)
    return entry


async def roll_back_schedule(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of a schedule's entry (see `audit.rollback`): the period it replaced."""
    account_id = UUID(entry.target.id)
    current = await repository.schedule_of(conn, account_id)  # locks the account's schedule
    await refuse_if_changed_since(conn, entry)
    assert entry.before is not None
    undone = await _put(conn, change, account_id, (current, entry.before["months"]), entry.id)
    if undone is None:
        raise InvalidChange("entryId", "the schedule is so already; nothing to roll back")
    return undone


async def reports_of(conn: asyncpg.Connection, account_id: UUID, limit: int) -> list[Report]:
    return await repository.reports_of(conn, account_id, limit)
