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

from graphql import FloatValueNode, GraphQLError, IntValueNode, StringValueNode, ValidationRule

__all__ = ["NUL_ESCAPE", "UnstorableLiterals", "UnstorableText", "path_to_nul"]

# How a NUL character is written in JSON: a decoded document holds one only if its text
# holds this (the reverse is not true: "\\u0000" is a backslash and five characters).
NUL_ESCAPE = "\\u0000"


class UnstorableText(json.JSONDecodeError):
    """A decoded JSON document holds a NUL character. A JSONDecodeError, so that a
    WebSocket message with one is refused as any unreadable message is."""

    def __init__(self, path: str) -> None:
        super().__init__(f"text cannot hold a NUL character (\\u0000), as {path} does", "", 0)


def path_to_nul(value: Any, path: str = "the request") -> str | None:
    """Where the first NUL character in a decoded JSON value is (in a key or a string),
    as `the request.variables.events[3].eventId`; None when there is none."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = path_to_nul(key, path) or path_to_nul(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = path_to_nul(item, f"{path}[{index}]")
            if found:
                return found
    return None


class UnstorableLiterals(ValidationRule):
    """String literals with a NUL character, and number literals too large to be finite."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError("A string cannot hold a NUL character (\\u0000).", node))

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
        self._finite(node)

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        self._finite(node)  # an integer literal given for a Float: float() makes it infinite

    def _finite(self, node: FloatValueNode | IntValueNode) -> None:
        if not math.isfinite(float(node.value)):
            self.report_error(GraphQLError(f"Number {node.value} is out of range.", node))
