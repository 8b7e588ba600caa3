"""Credit use cases: consume credits through the metric that measures them, and read each
account's credits with their ledger.

Exactness: a consumption locks the account's lots of that metric's credits before it reads
what is left, so concurrent consumptions queue and the balance never goes below zero. The
consumption is recorded as a usage event of the metric (source `credit`) in the same
transaction, so the metric's counters, thresholds and milestones see it as any usage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.auth.principals import Principal
from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.common.changes import InvalidChange
from benefitgate.common.text import quoted
from benefitgate.credits import repository
from benefitgate.credits.ledger import allocate, balance_of, credits_of
from benefitgate.credits.models import Credit, CreditShort, Spent
from benefitgate.events import outbox as events
from benefitgate.metering.consume import suspension
from benefitgate.metering.ingest import record_usage
from benefitgate.metering.models import EventStatus, Suspended, UsageEvent
from benefitgate.metering.rules import Window

__all__ = [
    "CONSUMED",
    "LEDGER_DRAWS",
    "SOURCE",
    "consume",
    "credits_by_account",
    "event_id",
    "months",
]

CONSUMED = "credit.consumed"
SOURCE = "credit"  # of the usage events consumptions are recorded as
LEDGER_DRAWS = 100  # the newest consumptions each ledger lists


def event_id(scope: str, key: str) -> str:
    """The usage event id of a consumption: one per caller and idempotency key."""
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


def months(now: datetime) -> list[date]:
    """The usage partitions a consumption at `now` writes to: create them before its
    transaction (see `metering.ingest.Batch.prepare`)."""
    at = now.astimezone(UTC)
    return [date(at.year, at.month, 1)]


def _check(metric_key: str, amount: float, catalog: Catalog) -> Decimal:
    metric = catalog.metrics.get(metric_key)
    if metric is None:
        raise InvalidChange("metric", f"unknown metric {quoted(metric_key)}")
    credits = [b for b in catalog.benefits.values() if b.kind == "credit"]
    if metric.aggregation not in ("sum", "count") or all(
        b.metric_key != metric_key for b in credits
    ):
        raise InvalidChange("metric", f"no credit is consumed through {quoted(metric_key)}")
    wanted = quantities.credit_amount(amount)
    if wanted is None:
        raise InvalidChange("amount", quantities.CREDIT_AMOUNT)
    return wanted


async def consume(
    conn: asyncpg.Connection,
    principal: Principal,
    account: Account,
    metric_key: str,
    amount: float,
    event: str,
    catalog: Catalog,
    now: datetime,
) -> Spent | CreditShort | Suspended:
    """Draw `amount` from the account's credits measured by the metric, soonest-ending
    first, and record it as usage of the metric (event id `event`), in the caller's
    transaction. Returns CreditShort, writing nothing, when they hold less, and Suspended
    when the account may not consume (`metering.consume.suspension`). Raises
    InvalidChange for an unknown metric, one no credit is measured by, or a bad amount."""
    wanted = _check(metric_key, amount, catalog)
    suspended = await suspension(conn, account.id)
    if suspended is not None:
        return suspended
    lots = await repository.lock_lots(conn, account.id, metric_key, now)
    balance = balance_of(lots, now)
    if balance < wanted:
        return CreditShort(metric_key, wanted, balance)
    usage = UsageEvent(event, account.id, metric_key, amount, now, source=SOURCE)
    # Usage at `now` lies inside any backfill window: the default one answers the same.
    (outcome,) = await record_usage(conn, principal, [usage], catalog, now, Window())
    if outcome.status is EventStatus.DUPLICATE:
        raise InvalidChange("idempotencyKey", "this consumption was recorded already")
    if outcome.status is not EventStatus.ACCEPTED:
        # Refused by the metric's own rules (a metric with dimensions whose account already
        # has the most groups this period: a consumption counts in the group without
        # properties): said as such, never as a duplicate.
        reason = "refused" if outcome.reason is None else outcome.reason.value
        raise InvalidChange(
            "metric", f"usage of {quoted(metric_key)} refused this consumption: {reason}"
        )

    takes = allocate(lots, wanted, now)
    await repository.insert_draws(
        conn, account.id, metric_key, event, [(lot.grant_id, take) for lot, take in takes], now
    )
    spent = Spent(
        metric_key,
        wanted,
        [(lot.grant_id, take, lot.ends_at) for lot, take in takes],
        balance - wanted,
    )
    payload = {
        "metric": metric_key,
        "amount": float(wanted),
        "balance": float(spent.balance),
        "draws": [{"grantId": str(g), "amount": float(a)} for g, a, _ in spent.draws],
    }
    await events.enqueue(conn, CONSUMED, account.id, payload)
    return spent


async def credits_by_account(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Credit]]:
    """Each account's credits at `now`, in two statements for all of them."""
    lots = await repository.lots_of(conn, account_ids)
    draws = await repository.recent_draws(conn, account_ids, LEDGER_DRAWS)
    return {a: credits_of(lots.get(a, []), draws.get(a, []), now) for a in account_ids}
