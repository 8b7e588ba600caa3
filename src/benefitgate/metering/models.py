"""Usage events as received, their outcomes, and the results of consuming and checking."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from benefitgate.common.text import cut

__all__ = [
    "MAX_EVENT_ID",
    "CheckReason",
    "CheckResult",
    "Consumed",
    "EventOutcome",
    "EventStatus",
    "QuotaDenied",
    "Rejection",
    "UsageEvent",
    "echoed_id",
]


# Characters of a client's event id. Ids are kept in a unique index, whose entries Postgres
# caps at about 2,700 bytes: a longer id failed its whole batch as an unexpected error.
MAX_EVENT_ID = 255


def echoed_id(value: str) -> str:
    """An event's id (or source) as its result echoes it, for the client to match results
    by: whole when it may be valid, cut with an ellipsis when longer (it is refused then,
    and was echoed whole, however long)."""
    return cut(value, MAX_EVENT_ID)


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One measurement as a client sent it; `account_id` is None when it did not parse.

    An event counts once per account and (`source`, `event_id`): usageRecord's events have
    the source ''. A CloudEvent names its account by `subject`, the account's id (then
    also in `account_id`) or its external id."""

    event_id: str
    account_id: UUID | None
    metric_key: str
    value: float
    occurred_at: datetime
    source: str = ""
    subject: str | None = None
    # A CloudEvent's `data`, or usageRecord's `properties`: what a metric's usage may be
    # grouped by, and what a unique_count metric counts the distinct values of.
    properties: Mapping[str, object] | None = None


class EventStatus(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Rejection(enum.Enum):
    # An account the caller may not see is as unknown as one that does not exist, so that
    # a caller never learns which accounts exist.
    UNKNOWN_ACCOUNT = "unknown_account"
    INVALID_EVENT_ID = "invalid_event_id"
    UNKNOWN_METRIC = "unknown_metric"
    NEGATIVE_VALUE = "negative_value"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    OUTSIDE_WINDOW = "outside_window"
    # CloudEvents only: an event the format does not allow (a required attribute missing or
    # of the wrong type, another specversion, data that is not JSON or nests deeper than a
    # JSON input may, a number no float holds outside `data.value`), or without a value.
    INVALID_EVENT = "invalid_event"
    INVALID_VALUE = "invalid_value"
    # A property the metric groups by is not text, a number or a boolean, or is too long.
    INVALID_DIMENSION = "invalid_dimension"
    # The event's group would pass the bound of groups per account, metric and period.
    TOO_MANY_GROUPS = "too_many_groups"
    # A unique_count metric's property is missing, null, an object or an array, or too long.
    INVALID_PROPERTY = "invalid_property"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    event: UsageEvent
    status: EventStatus
    reason: Rejection | None = None


@dataclass(frozen=True, slots=True)
class Consumed:
    account_id: UUID
    metric_key: str
    amount: float
    used: float
    limit: float | None  # None: unlimited
    overage: bool  # a soft limit let it past the limit
    period_end: datetime | None


@dataclass(frozen=True, slots=True)
class QuotaDenied:
    account_id: UUID
    metric_key: str
    requested: float
    used: float
    limit: float
    resets_at: datetime | None


@dataclass(frozen=True, slots=True)
class Suspended:
    """The account may not consume: its subscription is past due or canceled (`status`),
    or it has none (None)."""

    account_id: UUID
    status: str | None


class CheckReason(enum.Enum):
    NOT_IN_TIER = "not_in_tier"
    EXCLUDED = "excluded"
    LIMIT_REACHED = "limit_reached"
    EXPIRED = "expired"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class CheckResult:
    allowed: bool
    reason: CheckReason | None = None
    remaining: float | None = None  # metrics only; None when unlimited
    tier_key: str | None = None  # not_in_tier / excluded: the lowest tier that includes it
