"""GraphQL type of a stored impact report, with its exports."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

import strawberry

from benefitgate.catalog.types import Money
from benefitgate.reports import exports
from benefitgate.reports.models import Report

__all__ = ["ImpactReport", "report_type"]


@strawberry.type(
    description="A scheduled impact report: one per account and period, stored when the "
    "period closed and never changed; its exports render the stored figures."
)
class ImpactReport:
    account_id: strawberry.ID
    from_: date = strawberry.field(name="from")
    to: date
    created_at: datetime
    value_delivered: Money | None
    document: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The report as CSV: one row per figure (RFC 4180, CRLF).")
    def csv(self) -> str:
        return exports.csv_of(self.document)

    @strawberry.field(description="The report as a PDF document, base64-encoded.")
    def pdf_base64(self) -> str:
        return base64.b64encode(exports.pdf_of(self.document, self.created_at)).decode()


def report_type(report: Report) -> ImpactReport:
    value = report.document["valueDelivered"]
    return ImpactReport(
        account_id=strawberry.ID(str(report.account_id)),
        from_=report.period.start,
        to=report.period.end,
        created_at=report.created_at,
        value_delivered=None
        if value is None
        else Money(amount_cents=value["amountCents"], currency=value["currency"]),
        document=report.document,
    )
