"""An impact report exported: CSV (one table, a row per figure) and PDF (fpdf2), both from
the stored document, so every export of a report is the same. Pure.

- CSV: a cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) gets
  a leading `'`, since names come from the vendor's catalog and the account.
- PDF: DejaVu Sans (`reports/fonts/`, shipped with the package under its own licence, so
  no system font is needed), embedded as a subset: Latin with its diacritics, Greek,
  Cyrillic and the other scripts it covers print exactly. A character the font has no
  glyph for (CJK ideographs, most emoji, ...) prints as U+FFFD (the replacement
  character) rather than failing: no font compact enough to ship covers CJK (Noto Sans
  CJK is over 15 MB a weight). The CSV and the stored document keep every character.
- PDF table cells: a table row must fit on one page (fpdf2 refuses the whole document
  otherwise), and the names in it are the catalog's and the account's, up to a few hundred
  characters of any kind (line breaks, one unbroken word, the widest glyphs). So a cell's
  whitespace runs print as one space and its text is cut, with an ellipsis, to what fits
  in CELL_LINES lines of its column (`fitted`). The CSV keeps the whole text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from benefitgate.common.quantities import figure

__all__ = ["COLUMNS", "csv_of", "pdf_of"]

COLUMNS = (
    "account_id", "period_from", "period_to", "section", "key", "name", "unit", "value",
    "target", "percent", "met", "amount_cents", "currency", "date",
)  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _rows(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    value = doc["valueDelivered"] or {}
    yield {
        "section": "total",
        "name": doc["account"]["name"],
        "amount_cents": value.get("amountCents"),
        "currency": value.get("currency"),
    }
    for m in doc["metrics"]:
        yield {"section": "metric", "key": m["key"], "name": m["name"], "unit": m["unit"],
               "value": m["value"], "target": m["limit"], "percent": m["peakPercent"]}  # fmt: skip
    for o in doc["outcomes"]:
        priced = o["valueCents"] is not None
        yield {"section": "outcome", "key": o["key"], "name": o["name"], "unit": o["unit"],
               "value": o["delivered"], "target": o["target"], "percent": o["percent"],
               "met": o["met"], "amount_cents": o["valueCents"],
               "currency": value.get("currency") if priced else None}  # fmt: skip
    for a in doc["milestones"]:
        yield {"section": "milestone", "key": a["key"], "name": a["name"], "date": a["achievedAt"]}
    for b in doc["benefitsUsed"]:
        yield {"section": "benefit_used", "key": b["key"], "name": b["name"],
               "unit": b["source"], "value": b["used"]}  # fmt: skip
    for b in doc["newBenefits"]:
        yield {"section": "new_benefit", "key": b["key"], "name": b["name"]}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_of(doc: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    fixed = {"account_id": doc["account"]["id"], "period_from": doc["from"], "period_to": doc["to"]}
    for row in _rows(doc):
        full = {**fixed, **row}
        writer.writerow([_cell(full.get(c)) for c in COLUMNS])
    return out.getvalue()


FONT = "DejaVuSans"
_FONTS = Path(__file__).parent / "fonts"
MISSING = "\ufffd"  # what a character without a glyph prints as


@cache
def _glyphs() -> frozenset[int]:
    """The code points both shipped weights draw."""
    found = []
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        with TTFont(_FONTS / name, lazy=True) as font:
            found.append(frozenset(font.getBestCmap()))
    return found[0] & found[1]


def printable(text: str) -> str:
    """`text` with every character the font cannot draw replaced by MISSING."""
    glyphs = _glyphs()
    return "".join(c if ord(c) in glyphs or c in "\n\t" else MISSING for c in text)


CELL_LINES = 4  # of the cell's column width: wrapping at words at most doubles the lines
ELLIPSIS = "\u2026"


def fitted(pdf: FPDF, text: str, width: float) -> str:
    """`text` on one line (whitespace runs as one space), cut with an ellipsis so that it
    spans at most CELL_LINES times `width` in the current font: a cell of it stays a few
    lines tall whatever the text."""
    flat = " ".join(printable(text).split())
    room = width * CELL_LINES
    if pdf.get_string_width(flat) <= room:
        return flat
    fits, over = 0, len(flat)  # the longest prefix that fits with the ellipsis, bisected
    while over - fits > 1:
        middle = (fits + over) // 2
        if pdf.get_string_width(flat[:middle] + ELLIPSIS) <= room:
            fits = middle
        else:
            over = middle
    return flat[:fits].rstrip() + ELLIPSIS


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{figure(value)}{' ' + unit if unit else ''}"


def _money(cents: int | None, currency: str | None) -> str:
    return "-" if cents is None else f"{cents / 100:,.2f} {currency or ''}".strip()


class _Report(FPDF):
    def __init__(self) -> None:
        super().__init__()
        self.add_font(FONT, "", _FONTS / "DejaVuSans.ttf")
        self.add_font(FONT, "B", _FONTS / "DejaVuSans-Bold.ttf")

    def heading(self, text: str) -> None:
        self.set_font(FONT, "B", 12)
        self.cell(0, 9, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=10)

    def table_of(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if not rows:
            self.cell(0, 6, "None in this period.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        width = self.epw / len(header)
        with self.table(text_align="LEFT", line_height=6) as table:
            for line in (header, *rows):
                row = table.row()
                for value in line:
                    row.cell(fitted(self, value, width))


def _percent(value: float | None, sign: str = "") -> str:
    return "-" if value is None else f"{'+' if sign and value > 0 else ''}{figure(value)}%"


def _outcome_rows(doc: dict[str, Any], currency: str | None) -> list[tuple[str, ...]]:
    return [
        (
            o["name"],
            _num(o["delivered"], o["unit"]),
            _num(o["target"], o["unit"]),
            _percent(o["percent"]) + (" (met)" if o["met"] else ""),
            _money(o["valueCents"], currency),
        )
        for o in doc["outcomes"]
    ]


def _metric_rows(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            m["name"],
            _num(m["value"], m["unit"]),
            _num(m["limit"]),
            _percent(m["peakPercent"]),
            _percent(m["trendPercent"], "+"),
        )
        for m in doc["metrics"]
    ]


def pdf_of(doc: dict[str, Any], created_at: datetime) -> bytes:
    """The report as PDF; dated when the report was made, so every export is the same."""
    pdf = _Report()
    pdf.set_title(f"Impact report {doc['from']} to {doc['to']}")
    pdf.set_creation_date(created_at)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    title = " ".join(f"Impact report: {doc['account']['name']}".split())  # one paragraph
    pdf.multi_cell(0, 9, printable(title))
    pdf.set_font(FONT, size=11)
    value = doc["valueDelivered"] or {}
    pdf.cell(0, 7, f"Period: {doc['from']} to {doc['to']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    worth = _money(value.get("amountCents"), value.get("currency"))
    pdf.cell(0, 7, f"Estimated value delivered: {worth}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.heading("Outcomes against targets")
    header = ("Outcome", "Delivered", "Target", "Attainment", "Value")
    pdf.table_of(header, _outcome_rows(doc, value.get("currency")))
    pdf.heading("Usage")
    header = ("Metric", "Used", "Limit", "Fullest period", "Trend")
    pdf.table_of(header, _metric_rows(doc))
    pdf.heading("Milestones reached")
    reached = [(a["name"], a["achievedAt"][:10]) for a in doc["milestones"]]
    pdf.table_of(("Milestone", "Reached"), reached)
    pdf.heading("Benefits used")
    used = [(b["name"], b["source"], _num(b["used"])) for b in doc["benefitsUsed"]]
    pdf.table_of(("Benefit", "Source", "Used"), used)
    pdf.heading("New in the catalog in this period")
    pdf.table_of(("Benefit",), [(b["name"],) for b in doc["newBenefits"]])
    return bytes(pdf.output())
