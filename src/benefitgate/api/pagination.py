"""Keyset pagination: opaque cursors and the cap on `first`."""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

import strawberry

from benefitgate.api.errors import InvalidInputError
from benefitgate.api.scalars import parse_serial

__all__ = [
    "MAX_FIRST",
    "PageInfo",
    "check_first",
    "decode_id_cursor",
    "decode_number_cursor",
    "encode_id_cursor",
    "encode_number_cursor",
]

MAX_FIRST = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def check_first(first: int) -> InvalidInputError | None:
    if not 1 <= first <= MAX_FIRST:
        return InvalidInputError.of("first", f"first must be between 1 and {MAX_FIRST}")
    return None


def encode_id_cursor(value: UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode()


def decode_id_cursor(raw: str) -> UUID | InvalidInputError:
    """Only what `encode_id_cursor` writes: base64 skips characters not its own, so the
    cursor must be the one its id encodes to."""
    try:
        found = UUID(bytes=base64.urlsafe_b64decode(raw.encode()))
        if encode_id_cursor(found) == raw:
            return found
    except (binascii.Error, ValueError):
        pass
    return InvalidInputError.of("after", "after is not a cursor this API produced")


def encode_number_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"n:{value}".encode()).decode()


def decode_number_cursor(raw: str) -> int | InvalidInputError:
    try:
        prefix, _, number = base64.urlsafe_b64decode(raw.encode()).decode().partition(":")
        value = parse_serial(number) if prefix == "n" else None
        # One spelling: no leading zeros, nothing base64 skips.
        if value is not None and encode_number_cursor(value) == raw:
            return value
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    return InvalidInputError.of("after", "after is not a cursor this API produced")
