"""Creating many accounts at once, for imports: the same rules as `provisioning.create`,
a statement for the whole batch instead of a round trip per account. An account whose
externalId exists already is left as it is (a re-run of an import changes nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from benefitgate.accounts.provisioning import CREATED, KIND, check_fields
from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.common.changes import ChangeContext
from benefitgate.events import outbox as events
from benefitgate.partners import service as partners

__all__ = ["NewAccount", "create_many", "unknown_partners"]


@dataclass(frozen=True, slots=True)
class NewAccount:
    external_id: str
    name: str
    metadata: dict[str, str]
    partner_ids: tuple[UUID, ...]

    def checked(self) -> NewAccount:
        """This account, its fields within bounds; raises InvalidChange naming the field."""
        name, metadata = check_fields(self.external_id, self.name, self.metadata)
        return NewAccount(self.external_id, name, metadata, self.partner_ids)


async def unknown_partners(conn: asyncpg.Connection, ids: set[UUID]) -> set[UUID]:
    found = await conn.fetch("select id from partners where id = any($1::uuid[])", list(ids))
    return ids - {r["id"] for r in found}


async def create_many(
    conn: asyncpg.Connection, change: ChangeContext, accounts: Sequence[NewAccount]
) -> list[str]:
    """Create the accounts whose externalId is new, with their partner links, audit entries
    and events, in the caller's transaction; returns the externalIds created. The partners
    must exist (`unknown_partners`) and the external ids be distinct."""
    ids = [uuid.uuid4() for _ in accounts]
    rows = await conn.fetch(
        """
        insert into accounts (id, external_id, name, metadata, created_at)
        select i, e, n, m::jsonb, $5 from unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
            as t(i, e, n, m)
        on conflict (external_id) do nothing
        returning id, external_id, name, metadata
        """,
        ids,
        [a.external_id for a in accounts],
        [a.name for a in accounts],
        [orjson.dumps(a.metadata).decode() for a in accounts],
        change.at,
    )
    created = {r["external_id"]: r for r in rows}
    links = [(p, created[a.external_id]["id"]) for a in accounts if a.external_id in created
             for p in a.partner_ids]  # fmt: skip
    snapshots = [(r["id"], _snapshot(r)) for r in created.values()]
    targets = [(Target(KIND, str(i), i), None, s) for i, s in snapshots]
    entries = await audit.record_many(conn, change, CREATED, targets)
    payloads = [
        (i, {**s, "version": 1, "auditEntryId": e.id})
        for (i, s), e in zip(snapshots, entries, strict=True)
    ]
    await events.enqueue_many(conn, CREATED, payloads)
    await partners.link_many(conn, change, links)
    return list(created)


def _snapshot(row: asyncpg.Record) -> dict[str, Any]:
    return {"externalId": row["external_id"], "name": row["name"], "metadata": row["metadata"]}
