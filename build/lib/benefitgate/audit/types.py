"""GraphQL types of the audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from benefitgate.api.pagination import PageInfo
from benefitgate.audit import models

__all__ = ["AuditEntry", "AuditPage", "RolledBack", "entry_type"]


@strawberry.type(description="One change: who did what to which target, before and after.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str
    action: str
    target_kind: str
    target_id: str
    account_id: strawberry.ID | None
    before: JSON | None = strawberry.field(description="Null: the target did not exist.")
    after: JSON | None = strawberry.field(description="Null: the target no longer exists.")
    reason: str
    request_id: str | None
    rollback_of: strawberry.ID | None = strawberry.field(
        description="The entry this one rolled back."
    )


@strawberry.type
class AuditPage:
    entries: list[AuditEntry] = strawberry.field(description="Newest first.")
    page_info: PageInfo


@strawberry.type
class RolledBack:
    entry: AuditEntry = strawberry.field(description="The new entry that records the rollback.")
    replayed: bool


def _id(value: object) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


def entry_type(e: models.AuditEntry) -> AuditEntry:
    return AuditEntry(
        id=strawberry.ID(str(e.id)),
        at=e.at,
        actor=e.actor,
        action=e.action,
        target_kind=e.target.kind,
        target_id=e.target.id,
        account_id=_id(e.target.account_id),
        before=None if e.before is None else JSON(e.before),
        after=None if e.after is None else JSON(e.after),
        reason=e.reason,
        request_id=e.request_id,
        rollback_of=_id(e.rollback_of),
    )
