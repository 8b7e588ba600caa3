"""GraphQL types of metering: usage ingest, consumption and entitlement checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.arguments import InputContext

from benefitgate.api.errors import Error, ErrorCode
from benefitgate.catalog.types import Metric
from benefitgate.metering import models
from benefitgate.subscriptions.types import SubscriptionStatus
from benefitgate.usage import series
from benefitgate.usage.service import GroupSeries

__all__ = [
    "AccountSuspendedError",
    "EntitlementCheck",
    "QuotaExceeded",
    "UsageConsumed",
    "UsageEventInput",
    "UsageEventResult",
    "UsageRecorded",
    "UsageSeries",
]

UsageEventStatus = strawberry.enum(models.EventStatus, name="UsageEventStatus")
UsageRejection = strawberry.enum(models.Rejection, name="UsageRejection")
CheckReason = strawberry.enum(models.CheckReason, name="CheckReason")
UsageBucket = strawberry.enum(series.Bucket, name="UsageBucket")


@strawberry.input
class UsageEventInput:
    event_id: str = strawberry.field(
        description="The client's id for the event, 1 to 255 characters: a retry with the "
        "same id counts once."
    )
    account_id: strawberry.ID
    metric: str
    value: float
    occurred_at: datetime = strawberry.field(
        description="Up to the backfill window back (35 days unless BENEFITGATE_BACKFILL_DAYS "
        "says otherwise) and 5 minutes ahead."
    )
    properties: JSON | None = strawberry.field(
        default=None,
        description="A JSON object of the event's properties, as a CloudEvent's `data`: "
        "those the metric groups by, and a unique_count metric's property.",
    )


def _event_from_input(cls: type, value: Mapping[str, Any], _: InputContext) -> UsageEventInput:
    """Build the input from the values graphql-core has already coerced. Every field is a
    scalar (`properties` an optional JSON one), so Strawberry's generic conversion
    (resolving each field's type for each of up to 1,000 events) has nothing to add but
    cost."""
    built: UsageEventInput = cls(
        event_id=value["eventId"],
        account_id=value["accountId"],
        metric=value["metric"],
        value=value["value"],
        occurred_at=value["occurredAt"],
        properties=value.get("properties"),
    )
    return built


UsageEventInput.__strawberry_definition__.from_input = _event_from_input  # type: ignore[attr-defined]


@strawberry.type
class UsageEventResult:
    event_id: str
    account_id: strawberry.ID
    status: UsageEventStatus  # type: ignore[valid-type]
    reason: UsageRejection | None  # type: ignore[valid-type]


def _results(root: UsageRecorded) -> list[UsageEventResult]:
    # Built only when asked for: most callers read the counts alone, and a thousand result
    # objects would cost more than the rest of the answer.
    return [
        UsageEventResult(
            event_id=models.echoed_id(o.event.event_id),
            account_id=strawberry.ID(str(o.event.account_id or "")),
            status=o.status,
            reason=o.reason,
        )
        for o in root.outcomes
    ]


@strawberry.type
class UsageRecorded:
    accepted: int
    duplicates: int
    rejected: int
    results: list[UsageEventResult] = strawberry.field(resolver=_results)
    outcomes: strawberry.Private[list[models.EventOutcome]]

    @classmethod
    def of(cls, outcomes: list[models.EventOutcome]) -> UsageRecorded:
        count = Counter(o.status for o in outcomes)
        return cls(
            accepted=count[models.EventStatus.ACCEPTED],
            duplicates=count[models.EventStatus.DUPLICATE],
            rejected=count[models.EventStatus.REJECTED],
            outcomes=outcomes,
        )


@strawberry.type
class UsageConsumed:
    account_id: strawberry.ID
    metric: str
    amount: float
    used: float
    limit: float | None = strawberry.field(description="Null when unlimited.")
    remaining: float | None
    overage: bool = strawberry.field(description="True when a soft limit let it past.")
    period_end: datetime | None
    replayed: bool = strawberry.field(description="True when an idempotent retry replayed it.")


@strawberry.type(description="A hard limit would be exceeded; nothing was consumed.")
class QuotaExceeded(Error):
    limit: float
    used: float
    requested: float
    resets_at: datetime | None
    replayed: bool


@strawberry.type(
    description="The account's subscription is past due or canceled, or it has none: it may "
    "not consume, and nothing was consumed."
)
class AccountSuspendedError(Error):
    status: SubscriptionStatus | None = strawberry.field(
        description="The subscription's status; null when the account has none."
    )
    replayed: bool


@strawberry.type
class EntitlementCheck:
    allowed: bool
    reason: CheckReason | None  # type: ignore[valid-type]
    remaining: float | None = strawberry.field(description="Metrics only; null when unlimited.")
    tier: str | None = strawberry.field(
        description="For not_in_tier and excluded: the key of the lowest tier that includes it."
    )


@strawberry.type(description="Usage over the days of one bucket inside the asked range.")
class UsagePoint:
    start: date
    end: date = strawberry.field(description="The bucket's last day, inclusive.")
    value: float | None = strawberry.field(
        description="Total for sum and count metrics, peak for max, last reading for latest "
        "(null without one)."
    )


@strawberry.type(description="The value of one property a metric's usage is grouped by.")
class Dimension:
    name: str
    value: str | None = strawberry.field(description="Null for events without the property.")


@strawberry.type(description="A period's usage of one group: events with these property values.")
class UsageGroup:
    dimensions: list[Dimension]
    value: float


def dimensions_of(values: dict[str, str | None]) -> list[Dimension]:
    return [Dimension(name=k, value=v) for k, v in values.items()]


@strawberry.type(description="The usage of one group: events with these property values.")
class UsageGroupSeries:
    dimensions: list[Dimension]
    points: list[UsagePoint]


@strawberry.type
class UsageSeries:
    metric: Metric
    bucket: UsageBucket  # type: ignore[valid-type]
    points: list[UsagePoint]
    groups: list[UsageGroupSeries] = strawberry.field(
        description="Per group of the properties asked for in `groupBy` (none without it), "
        "each group with usage in the range."
    )


def _points(points: list[series.SeriesPoint]) -> list[UsagePoint]:
    return [UsagePoint(start=p.first_day, end=p.last_day, value=p.value) for p in points]


def series_type(
    metric: Metric,
    bucket: series.Bucket,
    points: list[series.SeriesPoint],
    groups: list[GroupSeries],
) -> UsageSeries:
    return UsageSeries(
        metric=metric,
        bucket=bucket,
        points=_points(points),
        groups=[
            UsageGroupSeries(
                dimensions=dimensions_of(g.dimensions),
                points=_points(g.points),
            )
            for g in groups
        ],
    )


def consumed_type(result: models.Consumed, replayed: bool) -> UsageConsumed:
    remaining = None if result.limit is None else max(result.limit - result.used, 0.0)
    return UsageConsumed(
        account_id=strawberry.ID(str(result.account_id)),
        metric=result.metric_key,
        amount=result.amount,
        used=result.used,
        limit=result.limit,
        remaining=remaining,
        overage=result.overage,
        period_end=result.period_end,
        replayed=replayed,
    )


def suspended_type(suspended: models.Suspended, replayed: bool) -> AccountSuspendedError:
    status = None if suspended.status is None else SubscriptionStatus(suspended.status)
    why = "has no subscription" if status is None else f"is {status.value.replace('_', ' ')}"
    return AccountSuspendedError(
        code=ErrorCode.ACCOUNT_SUSPENDED,
        message=f"the account {why}: it may not consume",
        status=status,
        replayed=replayed,
    )


def quota_exceeded_type(denied: models.QuotaDenied, replayed: bool) -> QuotaExceeded:
    return QuotaExceeded(
        code=ErrorCode.QUOTA_EXCEEDED,
        message=f"{denied.metric_key}: {denied.used:g} of {denied.limit:g} used, "
        f"{denied.requested:g} more would exceed the limit",
        limit=denied.limit,
        used=denied.used,
        requested=denied.requested,
        resets_at=denied.resets_at,
        replayed=replayed,
    )
