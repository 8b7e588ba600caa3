"""The event types the service writes to the outbox: the one list a client may choose from.

Partners name the types they follow (a webhook endpoint's `eventTypes`, the live
`events(types:)`); a type nothing writes, such as a typo, would follow nothing without a
word, so those filters take only the types listed here. Each feature module keeps its own
constant for the type it writes (`seats.service.EVENT`, ...); `tests/events/test_kinds.py`
finds every type the package writes and fails for one missing here.

`webhook.test` is not listed: `webhookTestSend` sends it to an endpoint whatever the
endpoint follows, and the outbox never holds one.
"""

from __future__ import annotations

from collections.abc import Iterable

from benefitgate.common.text import quoted

__all__ = ["TYPES", "refusal"]

TYPES: tuple[str, ...] = (
    "account.created",
    "account.updated",
    "api_key.revoked",
    "catalog.benefit_created",
    "catalog.benefit_retired",
    "catalog.draft_created",
    "catalog.draft_discarded",
    "catalog.metric_created",
    "catalog.metric_updated",
    "catalog.outcome_created",
    "catalog.outcome_value_set",
    "catalog.published",
    "credit.consumed",
    "entitlement.changed",
    "impact.report_ready",
    "impact.report_schedule_set",
    "milestone.defined",
    "milestone.reached",
    "outcome_target.removed",
    "outcome_target.set",
    "partner.account_linked",
    "partner.account_unlinked",
    "partner.created",
    "renewal.reminder",
    "seats.changed",
    "subscription.changed",
    "suggestion.accepted",
    "suggestion.created",
    "suggestion.dismissed",
    "usage.recorded",
    "usage.threshold_crossed",
    "webhook.endpoint_disabled",
)
_KNOWN = frozenset(TYPES)
_NAMED = 5  # unknown types a refusal quotes; it counts the rest


def refusal(types: Iterable[str]) -> str | None:
    """Why `types` cannot be followed: a message naming those the service never writes
    (the first few, each once, and how many more); None when it writes every one."""
    unknown = list(dict.fromkeys(t for t in types if t not in _KNOWN))
    if not unknown:
        return None
    named = ", ".join(quoted(t) for t in unknown[:_NAMED])
    more = f" and {len(unknown) - _NAMED} more" if len(unknown) > _NAMED else ""
    return f"unknown event types: {named}{more}"
