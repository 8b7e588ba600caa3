"""Partners: create one, link it to the accounts it manages and unlink it. Visibility, live
streams and webhooks read the links as each request or event is served, so a change
applies at once. Each link change is audited and reported with an event on the account."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.common.text import trimmed
from benefitgate.events import outbox as events
from benefitgate.partners import repository
from benefitgate.partners.models import MAX_NAME, Partner

__all__ = ["CREATED", "LINKED", "UNLINKED", "create", "link", "link_many", "unlink"]

CREATED = "partner.created"
LINKED = "partner.account_linked"
UNLINKED = "partner.account_unlinked"
KIND = "partner_link"


async def create(
    conn: asyncpg.Connection, change: ChangeContext, name: str, partner_id: UUID | None = None
) -> Partner:
    """A new partner, created at the change's instant; its id is drawn unless given (the
    demo gives its own, for repeatable data)."""
    if not 0 < len(trimmed(name)) <= MAX_NAME:
        raise InvalidChange("name", f"give a name of 1 to {MAX_NAME} characters")
    partner = await repository.insert(conn, partner_id or uuid.uuid4(), trimmed(name), change.at)
    after = {"id": str(partner.id), "name": partner.name}
    target = Target("partner", str(partner.id), None)
    entry = await audit.record(conn, change, CREATED, target, None, after, None)
    await events.enqueue(conn, CREATED, None, {**after, "auditEntryId": entry.id})
    return partner


async def link(
    conn: asyncpg.Connection, change: ChangeContext, partner_id: UUID, account_id: UUID
) -> AuditEntry | None:
    """Link the partner to the account; None when they were linked already (no change)."""
    try:
        linked = await repository.link(conn, partner_id, account_id)
    except asyncpg.ForeignKeyViolationError as exc:
        what = "partner" if "partner_id" in (exc.constraint_name or "") else "account"
        raise TargetNotFound(what) from exc
    return await _report(conn, change, LINKED, partner_id, account_id) if linked else None


async def unlink(
    conn: asyncpg.Connection, change: ChangeContext, partner_id: UUID, account_id: UUID
) -> AuditEntry | None:
    """Unlink them; None when they were not linked (no change)."""
    unlinked = await repository.unlink(conn, partner_id, account_id)
    return await _report(conn, change, UNLINKED, partner_id, account_id) if unlinked else None


async def _report(
    conn: asyncpg.Connection, change: ChangeContext, action: str, partner: UUID, account: UUID
) -> AuditEntry:
    linked = action == LINKED
    target = Target(KIND, f"{partner}/{account}", account)
    entry = await audit.record(
        conn, change, action, target, {"linked": not linked}, {"linked": linked}, None
    )
    payload = {"partnerId": str(partner), "auditEntryId": entry.id}
    await events.enqueue(conn, action, account, payload)
    return entry


async def link_many(
    conn: asyncpg.Connection, change: ChangeContext, links: Sequence[tuple[UUID, UUID]]
) -> int:
    """Link each (partner, account) pair, as `link` does one, in three statements whatever
    their number: pairs linked already change nothing. The partners and accounts must
    exist. Returns the number linked."""
    if not links:
        return 0
    made = await repository.link_many(conn, links)
    targets = [(Target(KIND, f"{p}/{a}", a), {"linked": False}, {"linked": True}) for p, a in made]
    entries = await audit.record_many(conn, change, LINKED, targets)
    payloads = [
        (a, {"partnerId": str(p), "auditEntryId": e})
        for (p, a), e in zip(made, entries, strict=True)
    ]
    await events.enqueue_many(conn, LINKED, payloads)
    return len(made)
