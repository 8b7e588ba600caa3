"""Text a client gives: what counts as blank in it, and how a refusal quotes it. Pure.

Blank is Unicode whitespace and the invisible format characters (category Cf: zero-width
space U+200B, word joiner U+2060, byte order mark U+FEFF, the bidirectional marks ...):
`str.strip()` keeps the latter, so a name or a definition of one zero-width space read as
text to a check and as nothing to a person.

A message names a thing with its article and counts with its plural right: `a_or_an`,
`counted`.

A refusal quotes what the client gave (an unknown key, a cursor, a literal) to say which
value it refuses, cut to `QUOTED` characters: quoted whole, a 100,000-character key came
back in full in the error, and in the log line of every answer that carried it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["QUOTED", "a_or_an", "counted", "cut", "is_blank", "quoted", "trimmed"]

QUOTED = 40  # characters of a client's value a refusal quotes
ELLIPSIS = "\u2026"


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


def cut(text: str, most: int = QUOTED) -> str:
    """`text` cut to `most` characters and an ellipsis when longer."""
    return text if len(text) <= most else text[:most] + ELLIPSIS


def quoted(value: object, most: int = QUOTED) -> str:
    """`value` as a refusal quotes it: the `repr` of its text's first `most` characters,
    with an ellipsis inside the quotes when there were more."""
    return repr(cut(value if isinstance(value, str) else str(value), most))


def a_or_an(noun: str) -> str:
    """`noun` after its indefinite article, for the nouns of messages: "an account", "an
    outcome_target", "a unique_count" (a u read as "you" takes "a"; "un-" takes "an")."""
    first = noun[:1].lower()
    vowel = first in "aeio" or (noun[:2].lower() == "un" and noun[:3].lower() != "uni")
    return f"{'an' if vowel else 'a'} {noun}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` with `noun` in its number: "1 user", "2 users" (`plural` when not noun + s)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
