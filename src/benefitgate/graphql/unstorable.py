"""Input that Postgres cannot store: NUL characters in text, and numbers that are not finite.

Postgres text cannot hold a NUL character, so a string with one failed in the database
driver as an unexpected error, after the request had passed every check of its own. JSON
variables are checked as the request body is decoded (JSON has no non-finite numbers, and
orjson refuses them); literals written in the document are checked by a validation rule,
since graphql-core's Float reads `1e400` as infinity.
"""

from __future__ import annotations

import json
import math
from typing import Any

from benefitgate.common.text import cut
from benefitgate.db import MAX_BIGINT
from graphql import FloatValueNode, GraphQLError, IntValueNode, StringValueNode, ValidationRule

__all__ = ["UnstorableLiterals", "UnstorableText", "may_hold_nul", "path_to_nul"]

# How a NUL character is written in JSON: a decoded document holds one only if its text
# holds this (the reverse is not true: "\\u0000" is a backslash and five characters).
NUL_ESCAPE = "\\u0000"


class UnstorableText(json.JSONDecodeError):
    """A decoded JSON document holds a NUL character. A JSONDecodeError, so that a
    WebSocket message with one is refused as any unreadable message is."""

    def __init__(self, path: str) -> None:
        super().__init__(f"text cannot hold a NUL character (\\u0000), as {path} does", "", 0)


def may_hold_nul(text: str | bytes) -> bool:
    """Whether JSON text may decode to a NUL: a scan (about 0.1 ms for a thousand usage
    events), so that the walk of `path_to_nul` runs only when it may find one."""
    if isinstance(text, str):
        return NUL_ESCAPE in text
    return NUL_ESCAPE.encode() in text


def path_to_nul(value: Any, path: str = "the request") -> str | None:
    """Where a NUL character in a decoded JSON value is, as
    `the request.variables.events[3].eventId` (a key with one is named by itself); None when
    there is none. Iterative: orjson decodes documents nested a thousand deep, deeper than
    Python's recursion limit."""
    pending = [(path, value)]
    while pending:
        at, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return at
        elif isinstance(item, dict):
            for key, inner in item.items():
                named = f"{at}.{cut(key)}"  # a key is the client's: cut as a refusal quotes
                pending.append((named, key))
                pending.append((named, inner))
        elif isinstance(item, list):
            pending.extend((f"{at}[{index}]", inner) for index, inner in enumerate(item))
    return None


class UnstorableLiterals(ValidationRule):
    """String literals with a NUL character, float literals too large to be finite, and
    integer literals past 64 bits."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError("A string cannot hold a NUL character (\\u0000).", node))

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
        if not math.isfinite(float(node.value)):
            self.report_error(GraphQLError(f"Number {cut(node.value)} is out of range.", node))

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        # An Int is 32 bits and an ID a string, so a longer integer is a Float (which float()
        # may make infinite) or a JSON value (which jsonb cannot hold past 64 bits).
        digits = node.value.lstrip("-")
        if len(digits) > len(str(MAX_BIGINT)) or int(digits) > MAX_BIGINT:
            self.report_error(GraphQLError(f"Number {cut(node.value)} is out of range.", node))
