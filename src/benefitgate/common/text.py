"""Text a client gives: what counts as blank in it. Pure.

Blank is Unicode whitespace and the invisible format characters (category Cf: zero-width
space U+200B, word joiner U+2060, byte order mark U+FEFF, the bidirectional marks ...):
`str.strip()` keeps the latter, so a name or a definition of one zero-width space read as
text to a check and as nothing to a person.
"""

from __future__ import annotations

import unicodedata

__all__ = ["is_blank", "trimmed"]


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


def trimmed(value: str) -> str:
    """`value` without the blanks at either end (whitespace and format characters)."""
    value = value.strip()  # the common case, at C speed
    start, end = 0, len(value)
    while start < end and _blank(value[start]):
        start += 1
    while end > start and _blank(value[end - 1]):
        end -= 1
    return value[start:end]


def is_blank(value: str) -> bool:
    """Whether `value` holds nothing but blanks (whitespace and format characters)."""
    return not trimmed(value)
