"""What a cached response is tagged with, and which tags a committed change invalidates.

A response is tagged with every account it read and with the catalog (every cacheable
answer reads the catalog snapshot). A change invalidates:

- an event of an account (`account_id` set: grants, subscriptions, seats, milestones,
  targets, suggestions, partner links, provisioning): that account;
- `account.*` events also the external-id lookups (`account(externalId:)`), which a
  creation or a new external id can turn from NOT_FOUND into an account;
- a global event that is not about keys or endpoints (`catalog.*`, `milestone.defined`,
  `partner.created`): the catalog, and with it every cached response;
- a usage write (whose `usage.recorded` events the listeners skip), a suggestion
  update and seat activity (which write no event) touch their accounts through
  `events.touch`.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

__all__ = ["CATALOG", "EXTERNAL_IDS", "account_tag", "event_tags"]

CATALOG = "catalog"
EXTERNAL_IDS = "external-ids"
# Global events that change nothing a cacheable query reads: keys are checked before any
# lookup, and webhook endpoints are not cached.
_INERT_GLOBAL = ("api_key.", "webhook.")


def account_tag(account_id: UUID | str) -> str:
    return f"account:{account_id}"


def event_tags(events: Iterable[tuple[str, UUID | None]]) -> set[str]:
    """The tags that events of (type, account id) invalidate."""
    tags: set[str] = set()
    for kind, account_id in events:
        if account_id is not None:
            tags.add(account_tag(account_id))
            if kind.startswith("account."):
                tags.add(EXTERNAL_IDS)
        elif not kind.startswith(_INERT_GLOBAL):
            tags.add(CATALOG)
    return tags
