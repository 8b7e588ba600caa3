"""Metering mutations and the entitlement check: authorise, convert, call one service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, cast

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.accounts.models import Account
from benefitgate.api.changes import Applied, run_change, run_write
from benefitgate.api.context import Context, Info
from benefitgate.api.errors import (
    ForbiddenError,
    IdempotencyConflictError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
)
from benefitgate.api.scalars import parse_id
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.primitives import UNIQUE_COUNTS_UNGROUPED
from benefitgate.catalog.types import catalog_types
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.common.text import quoted
from benefitgate.entitlements.snapshots import EntitlementSnapshots
from benefitgate.metering import codec, consume, ingest
from benefitgate.metering.counter_reads import CounterReads
from benefitgate.metering.denials import Denials
from benefitgate.metering.models import QuotaDenied, Suspended, UsageEvent
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.types import (
    AccountSuspendedError,
    EntitlementCheck,
    QuotaExceeded,
    UsageConsumed,
    UsageEventInput,
    UsageRecorded,
    UsageSeries,
    consumed_type,
    quota_exceeded_type,
    series_type,
    suspended_type,
)
from benefitgate.usage import service as usage
from benefitgate.usage.series import Bucket, InvalidRange

__all__ = ["MeteringMutation", "MeteringQuery", "answer_check"]

UsageRecordResult = Annotated[
    UsageRecorded | ForbiddenError | InvalidInputError, strawberry.union("UsageRecordResult")
]
UsageConsumeResult = Annotated[
    UsageConsumed
    | QuotaExceeded
    | AccountSuspendedError
    | NotFoundError
    | ForbiddenError
    | InvalidInputError
    | IdempotencyConflictError
    | IdempotencyKeyReusedError,
    strawberry.union("UsageConsumeResult"),
]
UsageSeriesResult = Annotated[
    UsageSeries | NotFoundError | InvalidInputError, strawberry.union("UsageSeriesResult")
]
EntitlementCheckResult = Annotated[
    EntitlementCheck | NotFoundError | InvalidInputError,
    strawberry.union("EntitlementCheckResult"),
]


# What consumption can be refused with, of what the change edge maps.
_CONSUME_REFUSALS = (
    ForbiddenError
    | InvalidInputError
    | NotFoundError
    | IdempotencyConflictError
    | IdempotencyKeyReusedError
)


def _event(raw: UsageEventInput) -> UsageEvent:
    return UsageEvent(
        raw.event_id,
        parse_id(raw.account_id),
        raw.metric,
        raw.value,
        raw.occurred_at,
        # An object: usage_record refuses the call otherwise, before any event is built.
        properties=cast("dict[str, object] | None", raw.properties),
    )


async def _visible_account(info: Info, raw_id: str) -> Account | None:
    """An unparsable id is as unknown as a missing account."""
    account_id = parse_id(raw_id)
    return None if account_id is None else await visible_account(info, account_id)


async def answer_check(
    context: Context,
    account_id: str,
    feature: str | None,
    metric: str | None,
    requested: float,
) -> EntitlementCheck | NotFoundError | InvalidInputError:
    """The answer of `entitlementCheck`, whether strawberry runs the field or the check's
    fast path (`graphql.fast.checks`) answers without it: one function, so both agree.
    Raises only what is unexpected (a lost database), before anything is counted."""
    parsed = parse_id(account_id)
    snapshot = (
        None
        if parsed is None
        else await context.shared.get(EntitlementSnapshots).get(parsed, context.db.acquire)
    )
    if snapshot is None or not context.principal.can_see(
        snapshot.account.id, snapshot.account.partner_ids
    ):
        return NotFoundError.of("account")
    account, catalog = snapshot.account.id, await catalog_of(context)
    counters = context.shared.get(CounterReads)

    async def used(metric_key: str, period_start: datetime) -> float:
        return await counters.value(account, metric_key, period_start)

    try:
        result = await consume.check(
            snapshot,
            feature=feature,
            metric=metric,
            requested=requested,
            catalog=catalog,
            now=context.now,
            used=used,
        )
    except InvalidChange as exc:
        return InvalidInputError.of(exc.field, str(exc))
    if result.reason is not None:
        name = feature or metric or ""
        context.shared.get(Denials).add(account, name, result.reason, context.now)
    elif feature is not None:
        context.shared.get(Denials).used(account, feature, context.now)
    return EntitlementCheck(
        allowed=result.allowed,
        reason=result.reason,
        remaining=result.remaining,
        tier=result.tier_key,
    )


@strawberry.type
class MeteringMutation:
    @strawberry.mutation(
        description="Record up to 1,000 usage events. Each is accepted, a duplicate of an "
        "event id seen within the backfill window (35 days unless BENEFITGATE_BACKFILL_DAYS "
        "says otherwise), or rejected with a reason."
    )
    async def usage_record(self, info: Info, events: list[UsageEventInput]) -> UsageRecordResult:
        context = info.context
        if context.principal.role is Role.FRONTEND:
            return ForbiddenError.of("frontends cannot record usage")
        if len(events) > ingest.MAX_BATCH:
            return InvalidInputError.of("events", f"at most {ingest.MAX_BATCH} events a call")
        if any(e.properties is not None and not isinstance(e.properties, dict) for e in events):
            return InvalidInputError.of("properties", "an event's properties are a JSON object")
        batch = ingest.Batch(
            context.principal,
            [_event(e) for e in events],
            await catalog_of(context),
            context.now,
            context.shared.get(Partitions),
        )
        outcomes = await run_write(info, batch.record, prepare=batch.prepare)
        # Ingest refuses events one by one, in their outcomes, never the whole batch.
        assert isinstance(outcomes, list), outcomes
        ingest.count_outcomes(outcomes)
        return UsageRecorded.of(outcomes)

    @strawberry.mutation(
        description="Consume an amount of a metric if the limit allows, atomically. A retry "
        "with the same idempotency key and arguments replays the first result."
    )
    async def usage_consume(
        self,
        info: Info,
        account_id: strawberry.ID,
        metric: str,
        amount: float,
        idempotency_key: str,
    ) -> UsageConsumeResult:
        context = info.context
        if context.principal.role is Role.FRONTEND:
            return ForbiddenError.of("frontends cannot consume usage")
        account = await _visible_account(info, account_id)
        if account is None:
            return NotFoundError.of("account")
        catalog = await catalog_of(context)

        async def effect(conn: asyncpg.Connection, _: ChangeContext) -> dict[str, Any]:
            used = await consume.consume(conn, account, metric, amount, catalog, context.now)
            return codec.to_json(used)

        applied = await run_change(
            info,
            operation="usageConsume",
            key=idempotency_key,
            reason=None,
            arguments={"account": str(account.id), "metric": metric, "amount": amount},
            effect=effect,
            internal_only=False,  # any partner or internal tool that sees the account
        )
        if not isinstance(applied, Applied):
            assert isinstance(applied, _CONSUME_REFUSALS), applied
            return applied
        response, replayed = applied.result, applied.replayed
        result = codec.from_json(response)
        if isinstance(result, QuotaDenied):
            return quota_exceeded_type(result, replayed)
        if isinstance(result, Suspended):
            return suspended_type(result, replayed)
        return consumed_type(result, replayed)


@strawberry.type
class MeteringQuery:
    @strawberry.field(
        description="May the account use a feature (a benefit key), or `requested` more of a "
        "metric, now? Answered from the account's entitlement snapshot (a metric reads its "
        "one counter); denials are counted for upgrade suggestions."
    )
    async def entitlement_check(
        self,
        info: Info,
        account_id: strawberry.ID,
        feature: str | None = None,
        metric: str | None = None,
        requested: float = 1.0,
    ) -> EntitlementCheckResult:
        return await answer_check(info.context, account_id, feature, metric, requested)

    @strawberry.field(
        description="Usage of one metric per day, ISO week or month over the UTC dates "
        "`from` to `to`, both inclusive; at most 1,000 points. With `groupBy` (some of the "
        "metric's `groupBy`), also per group of those properties."
    )
    async def usage_series(
        self,
        info: Info,
        account_id: strawberry.ID,
        metric: str,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        bucket: Bucket = Bucket.DAY,
        group_by: list[str] | None = None,
    ) -> UsageSeriesResult:
        account = await _visible_account(info, account_id)
        if account is None:
            return NotFoundError.of("account")
        catalog = await catalog_of(info.context)
        if metric not in catalog.metrics:
            return InvalidInputError.of("metric", f"unknown metric {quoted(metric)}")
        found = catalog.metrics[metric]
        if group_by and found.aggregation == "unique_count":
            return InvalidInputError.of("groupBy", UNIQUE_COUNTS_UNGROUPED)
        if not set(group_by or ()) <= set(found.group_by):
            return InvalidInputError.of("groupBy", f"{metric} groups by {list(found.group_by)}")
        try:
            async with info.context.db.acquire() as conn:
                points, groups = await usage.usage_series_by_group(
                    conn, account.id, found, from_, to, bucket, group_by or []
                )
        except InvalidRange as exc:
            return InvalidInputError.of("to", str(exc))
        return series_type(catalog_types(catalog).metrics[metric], bucket, points, groups)
