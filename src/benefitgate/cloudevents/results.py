"""The answer of `POST /events`: counts, then each event's result in the order sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from benefitgate.cloudevents.format import Refused
from benefitgate.common.quantities import USAGE_RANGE
from benefitgate.metering.groups import MAX_DIMENSION, MAX_GROUPS
from benefitgate.metering.models import (
    MAX_EVENT_ID,
    EventOutcome,
    EventStatus,
    Rejection,
    echoed_id,
)
from benefitgate.metering.rules import Window
from benefitgate.metering.uniques import MAX_UNIQUE_VALUE

__all__ = ["MESSAGES", "body_of"]

# What each rejection by metering's rules means for a CloudEvent.
MESSAGES = {
    Rejection.INVALID_EVENT_ID: f"`id` and `source` are 1 to {MAX_EVENT_ID} characters",
    Rejection.UNKNOWN_ACCOUNT: "`subject` is neither the id nor the external id of an "
    "account you may see",
    Rejection.UNKNOWN_METRIC: "`type` is not the key of a metric",
    Rejection.NEGATIVE_VALUE: "only `latest` metrics take negative values",
    Rejection.VALUE_OUT_OF_RANGE: USAGE_RANGE,
    Rejection.OUTSIDE_WINDOW: "`time` must be at most {back} days back and {ahead} minutes ahead",
    Rejection.INVALID_DIMENSION: "a `data` property the metric groups by must be text, a "
    f"number or a boolean, of at most {MAX_DIMENSION} characters",
    Rejection.TOO_MANY_GROUPS: f"the account has {MAX_GROUPS} groups of this metric in this "
    "period already; the event's property values would open another",
    Rejection.INVALID_PROPERTY: "a unique_count metric's property must be in `data`, as "
    f"text, a number or a boolean of 1 to {MAX_UNIQUE_VALUE} characters",
}


def _echo(raw: object, name: str) -> object:
    """An attribute as the client sent it, when it is a JSON scalar, to match results by
    (text cut as metering cuts an id)."""
    value = raw.get(name) if isinstance(raw, dict) else None
    if isinstance(value, str):
        return echoed_id(value)
    return value if isinstance(value, int | float | bool) else None


def _result(raw: object, result: EventOutcome | Refused, window: Window) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": _echo(raw, "id"), "source": _echo(raw, "source")}
    status: EventStatus
    reason: Rejection | None
    message: str | None
    if isinstance(result, Refused):
        status, reason, message = EventStatus.REJECTED, result.reason, result.message
    else:
        status, reason = result.status, result.reason
        message = None if reason is None else _message(reason, window)
    answer["status"] = status.name
    answer["reason"] = None if reason is None else reason.name
    answer["message"] = message
    return answer


def _message(reason: Rejection, window: Window) -> str:
    """The rejection's message, with the window this service accepts."""
    if reason is Rejection.OUTSIDE_WINDOW:
        ahead = int(window.ahead.total_seconds()) // 60
        return MESSAGES[reason].format(back=window.back.days, ahead=ahead)
    return MESSAGES[reason]


def body_of(
    raws: Sequence[object], results: Sequence[EventOutcome | Refused], window: Window
) -> dict[str, Any]:
    """The response body for `raws`, each with its result (`window`: the accepted one)."""
    listed = [_result(raw, result, window) for raw, result in zip(raws, results, strict=True)]
    count = Counter(r["status"] for r in listed)
    return {
        "accepted": count[EventStatus.ACCEPTED.name],
        "duplicates": count[EventStatus.DUPLICATE.name],
        "rejected": count[EventStatus.REJECTED.name],
        "results": listed,
    }
