"""`usage.recorded`: one outbox event per account whose counters a write changed, in the
write's transaction, naming each counter with its new value. Dashboards follow it live
(the portal redraws its usage on it) instead of polling; partners may follow it too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.events import outbox as events
from benefitgate.metering.repository import CounterValue

__all__ = ["EVENT_TYPE", "report_usage"]

EVENT_TYPE = "usage.recorded"


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
