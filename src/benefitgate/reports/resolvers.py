"""An account's scheduled impact reports."""

from __future__ import annotations

from typing import Annotated

import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.api.context import Info
from benefitgate.api.errors import InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.reports import service
from benefitgate.reports.types import ImpactReport, report_type

__all__ = ["ReportQuery"]

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
