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

__all__ = ["ACCOUNTLESS", "TYPES", "accountless", "refusal"]

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
# The types whose events carry no account (the catalog's, API keys', partners' and
# milestones' definitions, an endpoint's disabling). A partner's endpoint, and any endpoint
# or live stream narrowed to accounts, hears only accounts' events: following one of these
# there would hear nothing. `tests/events/test_kinds.py` checks the list against the writes.
ACCOUNTLESS: frozenset[str] = frozenset(
    {
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
        "milestone.defined",
        "partner.created",
        "webhook.endpoint_disabled",
    }
)
_KNOWN = frozenset(TYPES)
_NAMED = 5  # types a refusal quotes; it counts the rest


def accountless(types: Iterable[str]) -> str | None:
    """Why `types` cannot be followed where only accounts' events come: a message naming
    those whose events carry no account; None when there are none."""
    named = _named(t for t in types if t in ACCOUNTLESS)
    if named is None:
        return None
    return f"only accounts' events come here, and these carry no account: {named}"


def refusal(types: Iterable[str]) -> str | None:
    """Why `types` cannot be followed: a message naming those the service never writes
    (the first few, each once, and how many more); None when it writes every one."""
    named = _named(t for t in types if t not in _KNOWN)
    return None if named is None else f"unknown event types: {named}"


def _named(types: Iterable[str]) -> str | None:
    """The types, each once in order, the first few quoted and how many more; None for
    none."""
    found = list(dict.fromkeys(types))
    if not found:
        return None
    named = ", ".join(quoted(t) for t in found[:_NAMED])
    more = f" and {len(found) - _NAMED} more" if len(found) > _NAMED else ""
    return named + more
