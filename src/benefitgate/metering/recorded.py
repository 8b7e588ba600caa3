"""`usage.recorded`: one outbox event per account whose counters a write changed, in the
write's transaction, naming each counter with its new value. Dashboards follow it live
(the portal redraws its usage on it) instead of polling; partners may follow it too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.events import touch, written
from benefitgate.metering.repository import CounterValue, Report

__all__ = ["EVENT_TYPE", "REPORT", "noted_usage", "report_usage"]

EVENT_TYPE = "usage.recorded"

# Step 1 of the cascade as ingest's write statement makes it, in the same statement
# (`repository.record_events`): the same events and notifications as `report_usage` and
# `events.touch.touch`, with no round trip of their own while the counters' row locks are
# held. The period start is the same text; a whole value is written as a JSON integer.
REPORT = Report(EVENT_TYPE, events.CHANNEL, touch.CHANNEL, touch.MAX_IDS)


def noted_usage(counters: Sequence[CounterValue]) -> None:
    """Note, for the request, what the write statement reported under REPORT."""
    accounts = sorted({c[0] for c in counters})
    written.note(touch.TOUCHED, accounts)
    written.note(EVENT_TYPE, accounts)


async def report_usage(conn: asyncpg.Connection, counters: Sequence[CounterValue]) -> None:
    """Enqueue one event per account of `counters`, in one statement: `{"counters":
    [{"metric", "periodStart", "value"}]}` in the order written. Nothing for no counter
    (a batch of duplicates changed nothing)."""
    by_account: dict[UUID, list[dict[str, Any]]] = {}
    for account_id, metric, period_start, value in counters:
        by_account.setdefault(account_id, []).append(
            {"metric": metric, "periodStart": period_start.isoformat(), "value": value}
        )
    await events.enqueue_many(
        conn, EVENT_TYPE, [(a, {"counters": c}) for a, c in by_account.items()]
    )
