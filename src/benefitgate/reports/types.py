"""GraphQL type of a stored impact report, with its exports."""

from __future__ import annotations

import asyncio
import base64
from datetime import date, datetime
from typing import Any

import orjson
import strawberry
from cachetools import LRUCache

from benefitgate.catalog.types import Money, money
from benefitgate.reports import exports
from benefitgate.reports.models import Report

__all__ = ["ImpactReport", "rendered_pdf", "report_type"]

# Rendering a PDF takes about 150 ms of CPU (fpdf2 reads and subsets the embedded font for
# each document), so it runs off the event loop, and since a stored report never changes,
# its bytes are kept: a report exported again costs a lookup. Bounded in bytes.
_PDF_CACHE_BYTES = 32 * 1024 * 1024
_rendered: LRUCache[bytes, bytes] = LRUCache(maxsize=_PDF_CACHE_BYTES, getsizeof=len)


async def rendered_pdf(document: dict[str, Any], created_at: datetime) -> bytes:
    """The report's PDF, rendered in a worker thread once per document and creation time."""
    key = orjson.dumps([document, created_at], option=orjson.OPT_SORT_KEYS)
    pdf = _rendered.get(key)
    if pdf is None:
        pdf = await asyncio.to_thread(exports.pdf_of, document, created_at)
        if len(pdf) <= _PDF_CACHE_BYTES // 8:
            _rendered[key] = pdf
    return pdf


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
    async def pdf_base64(self) -> str:
        return base64.b64encode(await rendered_pdf(self.document, self.created_at)).decode()


def report_type(report: Report) -> ImpactReport:
    value = report.document["valueDelivered"]
    return ImpactReport(
        account_id=strawberry.ID(str(report.account_id)),
        from_=report.period.start,
        to=report.period.end,
        created_at=report.created_at,
        value_delivered=None if value is None else money(value["amountCents"], value["currency"]),
        document=report.document,
    )
