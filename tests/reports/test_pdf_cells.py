"""Whatever text a report's names hold (the catalog takes up to 200 characters of any kind
for a metric, outcome, milestone or benefit name, the account up to 200), every table cell
of the PDF export prints, so the export never fails: a row taller than a page made fpdf2
refuse the whole document, and a stored report never changes, so that report could never
be exported again. Pure, no database."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from benefitgate.reports.exports import ELLIPSIS, csv_of, pdf_of

MADE = datetime(2026, 10, 1, tzinfo=UTC)

SHAPES = {
    "line breaks": "Connected" + "\n" * 170 + "integrations",
    "one long word": "W" * 200,
    "wide glyphs": "\ufdfd" * 200,
    "spaced words": "word " * 40,
    "tabs and returns": "a\t\r\n" * 50,
    "far past any bound": "Overlong " + "x" * 5000,
    "CJK and emoji": "東京🦄" * 66,
    "unicode line separators": "a\u2028b\u2029c\u0085" * 50,
}


def _document(text: str) -> dict[str, Any]:
    return {
        "account": {"id": "00000000-0000-0000-0000-000000000001", "name": "Account"},
        "from": "2026-07-01",
        "to": "2026-09-30",
        "valueDelivered": {"amountCents": 100, "currency": "USD"},
        "metrics": [
            {
                "key": "m",
                "name": "Metric",
                "unit": "u",
                "value": 1.0,
                "limit": 2.0,
                "peakPercent": 50.0,
                "trendPercent": 1.0,
            },
        ],
        "outcomes": [
            {
                "key": "o",
                "name": "Outcome",
                "unit": "h",
                "delivered": 1.0,
                "target": 2.0,
                "percent": 50.0,
                "met": False,
                "valueCents": 10,
            },
        ],
        "milestones": [{"key": "k", "name": "Milestone", "achievedAt": "2026-08-01T00:00Z"}],
        "benefitsUsed": [{"key": "b", "name": "Benefit", "source": "tier", "used": 1}],
        "newBenefits": [{"key": "n", "name": "New benefit"}],
    }


def _put(section: str, field: str) -> Callable[[dict[str, Any], str], None]:
    def put(doc: dict[str, Any], text: str) -> None:
        doc[section][0][field] = text

    return put


# Every text of the document that a table cell prints.
FIELDS = {
    f"{section}.{field}": _put(section, field)
    for section, fields in {
        "metrics": ("name", "unit"),
        "outcomes": ("name", "unit"),
        "milestones": ("name",),
        "benefitsUsed": ("name", "source"),
        "newBenefits": ("name",),
    }.items()
    for field in fields
}


def _text(pdf: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(text.split())


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_table_cell_prints_whatever_text_it_holds(field: str, shape: str) -> None:
    doc = _document("")
    text = SHAPES[shape]
    FIELDS[field](doc, text)
    printed = _text(pdf_of(doc, MADE))
    words = text.split()
    assert words[0][:5] in printed or "\ufffd" in printed or "\ufdfd" in text
    # The whole text stays in the CSV export.
    assert text.replace("\r\n", "\n").split()[0] in csv_of(doc)


def test_a_cell_too_long_for_its_place_is_cut_with_an_ellipsis_and_a_short_one_is_not() -> None:
    doc = _document("")
    doc["metrics"][0]["name"] = "Overlong " + "x" * 5000
    doc["newBenefits"][0]["name"] = "Short\nname"
    printed = _text(pdf_of(doc, MADE))
    assert "Overlong x" in printed and ELLIPSIS in printed and "x" * 2000 not in printed
    assert "Short name" in printed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(sorted(FIELDS)),
    text=st.text(
        alphabet=st.sampled_from(["W", "i", " ", "\n", "\t", "東", "\ufdfd", "é", "-"]),
        min_size=1,
        max_size=200,
    ),
)
def test_any_name_of_up_to_200_characters_prints(field: str, text: str) -> None:
    doc = _document("")
    FIELDS[field](doc, text)
    assert pdf_of(doc, MADE).startswith(b"%PDF")


def test_an_account_name_with_line_breaks_prints_as_one_title() -> None:
    doc = _document("")
    doc["account"]["name"] = "Acme" + "\n" * 190 + "Labs"
    pdf = pdf_of(doc, MADE)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert "Impact report: Acme Labs" in _text(pdf)
