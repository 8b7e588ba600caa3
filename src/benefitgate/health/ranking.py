"""Accounts at risk in order, a page at a time. Pure.

Most at risk first: by score, lowest first, then by account id. A cursor names the last
(score, id) given, so a page starts strictly after it whatever was given before.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from uuid import UUID

from benefitgate.health.models import Health

__all__ = ["Position", "decode_position", "encode_position", "page_after", "position"]

Position = tuple[int, UUID]


def page_after(
    ranked: Sequence[Health], after: Position | None, first: int
) -> tuple[list[Health], bool]:
    """The `first` healths after `after` in risk order, and whether more follow."""
    ordered = sorted(ranked, key=lambda h: (h.score, h.account_id.bytes))
    rest = [
        h
        for h in ordered
        if after is None or (h.score, h.account_id.bytes) > (after[0], after[1].bytes)
    ]
    return rest[:first], len(rest) > first


def position(h: Health) -> Position:
    return (h.score, h.account_id)


def encode_position(p: Position) -> str:
    return base64.urlsafe_b64encode(f"risk:{p[0]}:{p[1]}".encode()).decode()


def decode_position(raw: str) -> Position | None:
    """The position a cursor names; None for anything `encode_position` did not make."""
    try:
        prefix, score, account = base64.urlsafe_b64decode(raw.encode()).decode().split(":")
        if prefix == "risk" and score.isdigit() and int(score) <= 100:
            return (int(score), UUID(account))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    return None
