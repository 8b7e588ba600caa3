"""Recording usage events: idempotent, set-wise, exactly once per client event id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.accounts.models import Account
from benefitgate.auth.principals import Principal
from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.metering import repository
from benefitgate.metering.cascade import UsageCascade
from benefitgate.metering.models import (
    MAX_EVENT_ID,
    EventOutcome,
    EventStatus,
    Rejection,
    UsageEvent,
)
from benefitgate.metering.rules import in_window, negative_allowed

__all__ = ["MAX_BATCH", "BatchTooLarge", "months_of", "record_usage"]

MAX_BATCH = 1000


class BatchTooLarge(Exception):
    pass


def months_of(events: Sequence[UsageEvent], now: datetime) -> list[date]:
    """The UTC months whose partitions a batch may write to. Only events inside the
    accepted window count, so a client cannot make the service create far-off partitions."""
    moments = [e.occurred_at.astimezone(UTC) for e in events if in_window(e.occurred_at, now)]
    return sorted({date(at.year, at.month, 1) for at in moments})


def _rejection(
    event: UsageEvent,
    account: Account | None,
    principal: Principal,
    catalog: Catalog,
    now: datetime,
) -> Rejection | None:
    """Why the event is refused, if it is. An account the caller may not see is
    UNKNOWN_ACCOUNT, as a missing one is: the answer never tells them apart."""
    if not 0 < len(event.event_id) <= MAX_EVENT_ID:
        return Rejection.INVALID_EVENT_ID
    if account is None or not principal.can_see(account.id, account.partner_ids):
        return Rejection.UNKNOWN_ACCOUNT
    metric = catalog.metrics.get(event.metric_key)
    if metric is None:
        return Rejection.UNKNOWN_METRIC
    if not quantities.in_range(event.value):
        return Rejection.VALUE_OUT_OF_RANGE
    if event.value < 0 and not negative_allowed(metric.aggregation):
        return Rejection.NEGATIVE_VALUE
    if not in_window(event.occurred_at, now):
        return Rejection.OUTSIDE_WINDOW
    return None


async def record_usage(
    conn: asyncpg.Connection,
    principal: Principal,
    events: Sequence[UsageEvent],
    catalog: Catalog,
    now: datetime,
) -> list[EventOutcome]:
    """Record a batch in the caller's transaction; one outcome per event, in input order.

    A client event id counts once per account over the whole accepted window, also across
    concurrent and retried batches. Counters, daily buckets and threshold events are
    written set-wise with the events. The partitions of `months_of(events, now)` must exist.
    Raises BatchTooLarge above MAX_BATCH events, before writing anything.
    """
    if len(events) > MAX_BATCH:
        raise BatchTooLarge
    known = await accounts.accounts_by_ids(
        conn, list({e.account_id for e in events if e.account_id is not None})
    )
    outcomes: list[EventOutcome | None] = []
    candidates: dict[tuple[UUID, str], tuple[UsageEvent, Account]] = {}
    for event in events:
        account = known.get(event.account_id) if event.account_id else None
        reason = _rejection(event, account, principal, catalog, now)
        if reason is not None:
            outcomes.append(EventOutcome(event, EventStatus.REJECTED, reason))
        elif (event.account_id, event.event_id) in candidates:
            outcomes.append(EventOutcome(event, EventStatus.DUPLICATE))
        else:
            assert account is not None and event.account_id is not None
            candidates[event.account_id, event.event_id] = (event, account)
            outcomes.append(None)  # accepted or duplicate: the database decides
    stored = await _store(conn, list(candidates.values()), catalog, now)
    # The events left undecided are the candidates, in the same order.
    decided = iter(
        EventStatus.ACCEPTED if i in stored else EventStatus.DUPLICATE
        for i in range(len(candidates))
    )
    return [
        outcome or EventOutcome(event, next(decided))
        for event, outcome in zip(events, outcomes, strict=True)
    ]


async def _store(
    conn: asyncpg.Connection,
    candidates: list[tuple[UsageEvent, Account]],
    catalog: Catalog,
    now: datetime,
) -> set[int]:
    """Store the candidates; returns the positions of those stored (the others are
    duplicates of events stored before)."""
    if not candidates:
        return set()
    involved = list({account.id: account for _, account in candidates}.values())
    metrics = {event.metric_key for event, _ in candidates}
    cascade = await UsageCascade.prepare(conn, involved, catalog, now, metrics)
    batch = repository.EventColumns()
    for event, account in candidates:
        metric = catalog.metrics[event.metric_key]
        batch.add(
            account.id,
            event.metric_key,
            event.event_id,
            event.value,
            event.occurred_at,
            account.period_at(metric.reset, event.occurred_at),
            metric.aggregation,
        )
    positions, counters = await repository.record_events(conn, batch, now)
    await cascade.after_counters(conn, counters, catalog, now)
    return set(positions)
