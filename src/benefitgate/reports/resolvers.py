"""An account's scheduled impact reports."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.common.changes import ChangeContext, TargetNotFound
from benefitgate.reports import service
from benefitgate.reports.types import ImpactReport, report_type

__all__ = ["ReportMutation", "ReportQuery"]

MAX_REPORTS = 100


@strawberry.type
class ImpactReportList:
    reports: list[ImpactReport]


ReportsResult = Annotated[
    ImpactReportList | NotFoundError | InvalidInputError, strawberry.union("ImpactReportsResult")
]


@strawberry.type
class ReportQuery:
    @strawberry.field(
        description="The account's scheduled impact reports, newest period first (the "
        "`first` of them, up to 100), each exportable as CSV and PDF."
    )
    async def impact_reports(
        self, info: Info, account_id: strawberry.ID, first: int = 8
    ) -> ReportsResult:
        if not 1 <= first <= MAX_REPORTS:
            return InvalidInputError.of("first", f"give 1 to {MAX_REPORTS}")
        parsed = parse_id(account_id)
        account = None if parsed is None else await visible_account(info, parsed)
        if account is None:
            return NotFoundError.of("account")
        async with info.context.db.acquire() as conn:
            found = await service.reports_of(conn, account.id, first)
        return ImpactReportList(reports=[report_type(r) for r in found])


@strawberry.type
class ImpactReportScheduleSet:
    account_id: strawberry.ID
    months: int | None = strawberry.field(
        description="The account's own period in months (0: no reports); null: the service's."
    )
    audit_entry_id: strawberry.ID | None = strawberry.field(
        description="Null when the account had that period already (nothing changed)."
    )
    replayed: bool


ScheduleResult = Annotated[
    ImpactReportScheduleSet | ChangeError, strawberry.union("ImpactReportScheduleResult")
]


@strawberry.type
class ReportMutation:
    @strawberry.mutation(
        description="Give an account its own impact report period: 1, 2, 3, 4, 6 or 12 "
        "months (calendar-aligned), 0 for no reports, or null for the service's "
        "(BENEFITGATE_REPORT_MONTHS). Internal tools only; audited; reports already stored "
        "stay as they are. Setting the period the account has already is a no-op."
    )
    async def impact_report_schedule_set(
        self,
        info: Info,
        account_id: strawberry.ID,
        months: int | None,
        idempotency_key: str,
        reason: str = "",
    ) -> ScheduleResult:
        parsed = parse_id(account_id)

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            if parsed is None:
                raise TargetNotFound("account")
            entry = await service.set_schedule(conn, change, parsed, months)
            return {"auditEntryId": None if entry is None else entry.id}

        applied = await run_change(
            info,
            operation="impactReportScheduleSet",
            key=idempotency_key,
            reason=reason,
            arguments={"account": str(account_id), "months": months},
            effect=effect,
        )
        if not isinstance(applied, Applied):
            return applied
        entry_id = applied.result["auditEntryId"]
        return ImpactReportScheduleSet(
            account_id=account_id,
            months=months,
            audit_entry_id=None if entry_id is None else strawberry.ID(str(entry_id)),
            replayed=applied.replayed,
        )
