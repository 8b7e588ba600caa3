"""Cursors of every connection are taken only in the one spelling the API writes: base64
skips characters that are not its own, int() and UUID() read several spellings."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import pytest

from benefitgate.api.errors import InvalidInputError
from benefitgate.api.pagination import (
    decode_id_cursor,
    decode_number_cursor,
    encode_id_cursor,
    encode_number_cursor,
)
from benefitgate.health.ranking import Position, decode_position, encode_position

ID = uuid.UUID("6f1c2b9e-0a4d-4c1e-9b7a-2d5e8f3a1c40")


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_an_id_cursor_round_trips_and_nothing_else_decodes() -> None:
    good = encode_id_cursor(ID)

    assert decode_id_cursor(good) == ID
    for bad in ("!" + good, good.rstrip("="), good + "\n", good[:-4] + "====", "%%%"):
        assert isinstance(decode_id_cursor(bad), InvalidInputError), bad


@pytest.mark.parametrize(
    "bad", ["n:007", "n: 7", "n:+7", "n:7_0", "n:0", "n:nan", "m:7", "n:\u0667"]
)
def test_a_number_cursor_takes_one_spelling(bad: str) -> None:
    assert decode_number_cursor(encode_number_cursor(7)) == 7
    assert isinstance(decode_number_cursor(b64(bad)), InvalidInputError)
    assert isinstance(decode_number_cursor("!" + encode_number_cursor(7)), InvalidInputError)


def test_a_risk_cursor_takes_one_spelling() -> None:
    at = datetime(2026, 11, 15, 12, tzinfo=UTC)
    position = Position(at, date(2026, 11, 15), 30, None, 40, ID)
    good = encode_position(position)
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)).days * 86_400_000_000 + 12 * 3_600_000_000
    variants = [
        f"risk|0{micros}|2026-11-15|30|-|40|{ID}",  # a leading zero
        f"risk|{micros}|20261115|30|-|40|{ID}",  # another ISO spelling of the day
        f"risk|{micros}|2026-11-15|30|-|40|{str(ID).upper()}",
        f"risk|{micros}|2026-11-15|30|-|40|{{{ID}}}",
    ]

    assert decode_position(good) == position
    assert decode_position(b64(f"risk|{micros}|2026-11-15|30|-|40|{ID}")) == position
    for text in variants:
        assert decode_position(b64(text)) is None, text
    assert decode_position("!" + good) is None
