"""Creating many accounts at once, for imports and the demo: the same rules and records as
`provisioning.create` (an audit entry and an `account.created` event per account, its
partner links audited and reported), a statement per table for the whole batch instead of
round trips per account. An account whose externalId exists already is left as it is, so
a re-run of an import changes nothing, whoever created that account meanwhile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import NewAccount
from benefitgate.accounts.provisioning import CREATED, KIND, check_fields, snapshot
from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.common.changes import ChangeContext
from benefitgate.events import outbox as events
from benefitgate.partners import service as partners

__all__ = ["NewAccount", "checked", "create_many", "unknown_partners"]


def checked(account: NewAccount) -> NewAccount:
    """The account with its fields within bounds (the name trimmed); raises InvalidChange
    naming the first field that is not."""
    name, metadata = check_fields(account.external_id, account.name, account.metadata)
    return replace(account, name=name, metadata=metadata)


async def unknown_partners(conn: asyncpg.Connection, ids: set[UUID]) -> set[UUID]:
    found = await conn.fetch("select id from partners where id = any($1::uuid[])", list(ids))
    return ids - {r["id"] for r in found}


async def create_many(
    conn: asyncpg.Connection, change: ChangeContext, accounts: Sequence[NewAccount]
) -> list[NewAccount]:
    """Create the accounts whose externalId is new, with their partner links, audit entries
    and events, in the caller's transaction; returns those created, in the order given.
    The accounts must be `checked`, their external ids distinct and their partners must
    exist (`unknown_partners`)."""
    inserted = await repository.insert_many(conn, change.at, accounts)
    made = [a for a in accounts if a.id in inserted]
    after = [snapshot(a.external_id, a.name, a.metadata) for a in made]
    targets = [(Target(KIND, str(a.id), a.id), None, s) for a, s in zip(made, after, strict=True)]
    entries = await audit.record_many(conn, change, CREATED, targets)
    payloads = [
        (a.id, {**s, "version": 1, "auditEntryId": e})
        for a, s, e in zip(made, after, entries, strict=True)
    ]
    await events.enqueue_many(conn, CREATED, payloads)
    await partners.link_many(conn, change, [(p, a.id) for a in made for p in a.partner_ids])
    return made
