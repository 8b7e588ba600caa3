"""Where a walk through accounts at risk stands, and its cursors. Pure.

Most at risk first: by score, lowest first, then by account id. A cursor names the
ranking's instant the walk reads (the round that was last when its first page was read),
the day its renewal window starts from, and the last (score, id) given, so every page of
one walk reads one ranking and starts strictly after what was given before.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from benefitgate.health.models import Scored

__all__ = ["Position", "decode_position", "encode_position", "position"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Position(NamedTuple):
    as_of: datetime  # the round whose ranking the walk reads
    day: date  # the first day of the renewal window
    score: int
    account_id: UUID


def position(start: Position, s: Scored) -> Position:
    """The position just after `s` in the walk that began at `start`."""
    return Position(start.as_of, start.day, s.health.score, s.health.account_id)


def encode_position(p: Position) -> str:
    micros = (p.as_of - _EPOCH) // timedelta(microseconds=1)
    text = f"risk|{micros}|{p.day.isoformat()}|{p.score}|{p.account_id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_position(raw: str) -> Position | None:
    """The position a cursor names; None for anything `encode_position` did not make."""
    try:
        prefix, micros, day, score, account = (
            base64.urlsafe_b64decode(raw.encode()).decode().split("|")
        )
        if prefix == "risk" and micros.isdigit() and score.isdigit() and int(score) <= 100:
            as_of = _EPOCH + timedelta(microseconds=int(micros))
            return Position(as_of, date.fromisoformat(day), int(score), UUID(account))
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        pass
    return None
