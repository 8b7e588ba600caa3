"""The audit log for internal tools, and rolling back one of its entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.pagination import (
    PageInfo,
    check_first,
    decode_number_cursor,
    encode_number_cursor,
)
from benefitgate.api.scalars import parse_id, parse_serial
from benefitgate.audit import service
from benefitgate.audit.models import AuditFilter
from benefitgate.audit.rollback import Rollbacks
from benefitgate.audit.types import AuditPage, RolledBack, entry_type
from benefitgate.common.changes import ChangeContext
from benefitgate.common.text import is_blank

__all__ = ["AuditMutation", "AuditQuery"]

AuditLogResult = Annotated[
    AuditPage | ForbiddenError | InvalidInputError, strawberry.union("AuditLogResult")
]
AuditRollbackResult = Annotated[RolledBack | ChangeError, strawberry.union("AuditRollbackResult")]


def _filter(
    account_id: strawberry.ID | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> AuditFilter | InvalidInputError:
    parsed = None
    if account_id is not None:
        parsed = parse_id(account_id)
        if parsed is None:
            return InvalidInputError.of("accountId", "not an account id")
    if since is not None and until is not None and until <= since:
        return InvalidInputError.of("to", "`to` must be after `from`")
    return AuditFilter(parsed, actor, action, since, until)


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="Audit entries matching every given filter, newest first, over "
        "`from` (inclusive) to `to` (exclusive). Internal tools only."
    )
    async def audit_log(
        self,
        info: Info,
        account_id: strawberry.ID | None = None,
        actor: str | None = None,
        action: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditLogResult:
        if not info.context.principal.internal:
            return ForbiddenError.of("only internal tools read the audit log")
        where = _filter(account_id, actor, action, from_, to)
        before_id = None if after is None else decode_number_cursor(after)
        for invalid in (check_first(first), where, before_id):
            if isinstance(invalid, InvalidInputError):
                return invalid
        assert isinstance(where, AuditFilter) and not isinstance(before_id, InvalidInputError)
        async with info.context.db.acquire() as conn:
            found = await service.search(conn, where, before_id, first + 1)
        page = found[:first]
        return AuditPage(
            entries=[entry_type(e) for e in page],
            page_info=PageInfo(
                has_next_page=len(found) > first,
                end_cursor=encode_number_cursor(page[-1].id) if page else None,
            ),
        )


@strawberry.type
class AuditMutation:
    @strawberry.mutation(
        description="Restore the state before an audited change, as a new change that is "
        "itself audited. Refused, naming them, when the target changed after that entry "
        "(unless those changes were rolled back)."
    )
    async def audit_rollback(
        self, info: Info, entry_id: strawberry.ID, reason: str, idempotency_key: str
    ) -> AuditRollbackResult:
        entry_number = parse_serial(entry_id)
        if entry_number is None:
            return NotFoundError.of("audit entry")
        if is_blank(reason):
            return InvalidInputError.of("reason", "say why the change is rolled back")

        rollbacks = info.context.shared.get(Rollbacks)

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            return {"entryId": (await rollbacks.rollback(conn, change, entry_number)).id}

        applied = await run_change(
            info,
            operation="auditRollback",
            key=idempotency_key,
            reason=reason,
            arguments={"entryId": str(entry_number)},
            effect=effect,
        )
        if not isinstance(applied, Applied):
            return applied
        async with info.context.db.acquire() as conn:
            entry = await service.entry(conn, applied.result["entryId"])
        assert entry is not None  # entries are never deleted
        return RolledBack(entry=entry_type(entry), replayed=applied.replayed)
