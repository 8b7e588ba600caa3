"""Where a walk through accounts at risk stands, and its cursors. Pure.

Most at risk first: by score, lowest first, then by account id. A cursor names the
ranking's instant the walk reads (the round that was last when its first page was read),
the day its renewal window starts from, the walk's window (days) and caller (a partner, or
none for internal tools), and the last (score, id) given, so every page of one walk reads
one ranking and starts strictly after what was given before. A cursor is not signed: the
service checks that it could belong to the walk it is given to (`health.service.at_risk`).
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
    within_days: int  # how many days the window spans
    partner_id: UUID | None  # whose walk: a partner's, or None for internal tools
    score: int
    account_id: UUID


def position(start: Position, s: Scored) -> Position:
    """The position just after `s` in the walk that began at `start`."""
    return start._replace(score=s.health.score, account_id=s.health.account_id)


def encode_position(p: Position) -> str:
    micros = (p.as_of - _EPOCH) // timedelta(microseconds=1)
    partner = "-" if p.partner_id is None else str(p.partner_id)
    text = f"risk|{micros}|{p.day.isoformat()}|{p.within_days}|{partner}|{p.score}|{p.account_id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_position(raw: str) -> Position | None:
    """The position a cursor names; None for anything `encode_position` did not make."""
    try:
        prefix, micros, day, within, partner, score, account = (
            base64.urlsafe_b64decode(raw.encode()).decode().split("|")
        )
        numbers = all(_number(n) for n in (micros, within, score))
        if prefix == "risk" and numbers and int(score) <= 100:
            found = Position(
                _EPOCH + timedelta(microseconds=int(micros)),
                date.fromisoformat(day),
                int(within),
                None if partner == "-" else UUID(partner),
                int(score),
                UUID(account),
            )
            # One spelling (fromisoformat and UUID take several, base64 skips what is not
            # its own): the cursor its position encodes to.
            return found if encode_position(found) == raw else None
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        pass
    return None


def _number(text: str) -> bool:
    # ASCII digits only (str.isdigit takes superscript and fullwidth digits too), and no
    # more than a cursor holds: a score is at most 100, a window 366 days, an instant 17
    # digits of µs.
    return text.isascii() and text.isdigit() and len(text) <= 17
