"""Who made a change, as the account's own people may see it. Pure, no I/O.

An audit entry's actor is the caller's subject: `key:<id>` for an API key, the user for a
frontend token, or the name of a job. A customer sees a key as its role (the vendor's staff
and tools under the vendor's display name, a partner under its name), never its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from benefitgate.governance.models import Actor, KeyHolder

__all__ = ["SYSTEM", "actor_of", "key_ids"]

KEY_PREFIX = "key:"
# The actors of changes no caller made, with the name a customer sees.
SYSTEM = {
    "milestones": "Milestone rewards",
    "scheduler": "Scheduled changes",
    "webhooks": "Webhook delivery",
    "import": "Bulk import",
    "seed": "Demo data",
}


def key_ids(actors: Iterable[str]) -> set[str]:
    """The API key ids among the actors."""
    return {a.removeprefix(KEY_PREFIX) for a in actors if a.startswith(KEY_PREFIX)}


def actor_of(raw: str, keys: Mapping[str, KeyHolder], vendor: str) -> Actor:
    """The actor as the customer sees it; `keys` holds the key ids found among them."""
    if raw.startswith(KEY_PREFIX):
        holder = keys.get(raw.removeprefix(KEY_PREFIX))
        if holder is None:
            # Keys are never deleted, so this is a token's subject that reads like a key:
            # a user, whose subject is not shown, since it could pass for a key id.
            return Actor("user", "a user of this account")
        if holder.role == "partner":
            return Actor("partner", holder.partner_name or "a partner")
        return Actor(f"vendor_{holder.role}", vendor)
    if raw in SYSTEM:
        return Actor("system", SYSTEM[raw])
    return Actor("user", raw)
