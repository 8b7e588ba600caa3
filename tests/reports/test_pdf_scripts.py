"""The PDF export prints names in every script its shipped font covers exactly, and a
character the font lacks as the replacement character, never failing: read back with
pypdf. Pure, no database."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from benefitgate.reports import exports
from benefitgate.reports.exports import MISSING, csv_of, pdf_of, printable
from benefitgate.reports.types import rendered_pdf

NAMES = ["Zoë Łódź", "Ελλάδα", "Москва", "Ærøskøbing", "Çağla Đặng", "Київ ґанок"]


def _document(account: str, names: list[str]) -> dict[str, Any]:
    return {
        "account": {"id": "00000000-0000-0000-0000-000000000001", "name": account},
        "from": "2026-07-01",
        "to": "2026-09-30",
        "valueDelivered": {"amountCents": 123_456, "currency": "EUR"},
        "metrics": [
            {
                "key": f"m{n}",
                "name": name,
                "unit": "ώρες",
                "value": 5.0,
                "limit": 10.0,
                "peakPercent": 50.0,
                "trendPercent": -2.5,
            }
            for n, name in enumerate(names)
        ],
        "outcomes": [
            {
                "key": "o",
                "name": "Сэкономлено часов",
                "unit": "h",
                "delivered": 3.0,
                "target": 4.0,
                "percent": 75.0,
                "met": False,
                "valueCents": 1500,
            }
        ],
        "milestones": [{"key": "k", "name": "Première étape", "achievedAt": "2026-08-01T00:00Z"}],
        "benefitsUsed": [{"key": "b", "name": "Υποστήριξη 24/7", "source": "tier", "used": 3}],
        "newBenefits": [{"key": "n", "name": "Новая функция"}],
    }


def _text(pdf: bytes) -> str:
    """The PDF's text, with a table cell's wrapped lines joined again."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(text.split())


def test_latin_with_diacritics_greek_and_cyrillic_come_out_exactly() -> None:
    text = _text(pdf_of(_document("Zoë Łódź", NAMES), datetime(2026, 10, 1, tzinfo=UTC)))
    assert "Impact report: Zoë Łódź" in text
    for name in [*NAMES, "Сэкономлено часов", "Première étape", "Υποστήριξη 24/7"]:
        assert name in text, name
    assert "Новая функция" in text and "5 ώρες" in text
    assert "?" not in text and MISSING not in text


def test_a_script_the_font_lacks_prints_as_the_replacement_character_without_failing() -> None:
    doc = _document("東京 Tōkyō 🦄", ["北京", "Москва"])
    text = _text(pdf_of(doc, datetime(2026, 10, 1, tzinfo=UTC)))
    assert f"Impact report: {MISSING * 2} Tōkyō {MISSING}" in text
    assert MISSING * 2 in text and "Москва" in text
    assert printable("東京 Zoë") == f"{MISSING * 2} Zoë"
    # The CSV export, like the stored document, keeps every character.
    rows = list(csv.DictReader(io.StringIO(csv_of(doc))))
    assert rows[0]["name"] == "東京 Tōkyō 🦄" and rows[1]["name"] == "北京"


def test_the_fonts_and_their_licence_ship_inside_the_package() -> None:
    fonts = Path(exports.__file__).parent / "fonts"
    assert {p.name for p in fonts.iterdir()} >= {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"}
    assert "Bitstream Vera Fonts Copyright" in (fonts / "LICENSE").read_text()


async def test_a_pdf_renders_off_the_event_loop_once_per_stored_report(
    monkeypatch: Any,
) -> None:
    """A render takes a hundred milliseconds and more of CPU: it must not hold the event
    loop, and a stored report (immutable) is rendered once however often it is exported."""
    threads: list[int] = []

    def recording_pdf_of(doc: dict[str, Any], created_at: datetime) -> bytes:
        threads.append(threading.get_ident())
        return pdf_of(doc, created_at)

    monkeypatch.setattr(exports, "pdf_of", recording_pdf_of)
    made = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
    doc = _document(f"Render {uuid.uuid4()}", ["Zoë"])
    first, again = await asyncio.gather(rendered_pdf(doc, made), rendered_pdf(doc, made))
    assert first == again and "Render" in _text(first)
    assert threads and threading.get_ident() not in threads
    rendered = len(threads)
    assert await rendered_pdf(doc, made) == first
    assert len(threads) == rendered  # kept: no second render
    other = await rendered_pdf({**doc, "to": "2026-09-29"}, made)
    assert len(threads) == rendered + 1 and "2026-09-29" in _text(other)
