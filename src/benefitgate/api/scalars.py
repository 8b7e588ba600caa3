"""Scalar overrides: a DateTime that insists on a UTC offset and an instant Postgres keeps,
and a JSON that refuses values nested deeper than the service can send back.

Strawberry's DateTime accepts a time without an offset and hands the service a naive
datetime, which cannot be compared with an aware one. An instant without an offset is
ambiguous anyway, so it is refused where it is parsed, with a message saying why. Python's
own ISO parser is also several times faster than dateutil's, which counts for batches.

An instant given with an offset reaches the service in UTC: the offset a client wrote says
nothing about the instant, and calendar arithmetic on it (a period a month long, a renewal
on the 31st, the date a grant starts) is done in UTC, as the stored periods step. Left in
the client's offset, `2026-10-31T00:30:00+01:00` began a period a day shorter than the same
instant written `2026-10-30T23:30:00Z`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.scalars import JSON as JSON_TYPE
from strawberry.schema.types.base_scalars import isoformat, wrap_parser
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.scalar import ScalarDefinition

from benefitgate.common.nesting import MAX_DEPTH, too_deep
from benefitgate.db import MAX_BIGINT
from graphql import (
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    Undefined,
    ValueNode,
    VariableNode,
    value_from_ast_untyped,
)

__all__ = ["DATE", "DATETIME", "JSON", "parse_datetime", "parse_id", "parse_serial"]


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Expected a string.'
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Expected ISO 8601.'
        ) from None
    if parsed.tzinfo is None:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Give a UTC offset, '
            'e.g. "Z" or "+02:00".'
        )
    if not _storable(parsed):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Give an instant after '
            "0001-01-01T00:00:00Z and before 9999-12-31T23:59:59.999999Z."
        )
    return parsed.astimezone(UTC)


def _storable(at: datetime) -> bool:
    """Whether Postgres stores `at` as that instant. The database driver writes the first
    and last instants Python has as -infinity and infinity, which read back naive and
    broke every later comparison; one whose UTC time is outside years 1 to 9999 it cannot
    encode at all."""
    try:
        utc = at.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return False
    return datetime.min < utc < datetime.max


DATETIME = ScalarDefinition(
    name="DateTime",
    description="An instant: ISO 8601 date and time with a UTC offset.",
    specified_by_url=None,
    serialize=isoformat,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=datetime,
)


def _storable_date(raw: str) -> date:
    """A date Postgres keeps as that date: the database driver writes the first and last
    dates Python has as -infinity and infinity (a usage series from 0001-01-01 generated
    rows without end until the disk was full)."""
    parsed = date.fromisoformat(raw)
    if not date.min < parsed < date.max:
        raise ValueError("Give a date after 0001-01-01 and before 9999-12-31.")
    return parsed


DATE = ScalarDefinition(
    name="Date",
    description="Date (isoformat)",
    specified_by_url=None,
    serialize=isoformat,
    parse_value=wrap_parser(_storable_date, "Date"),
    parse_literal=None,
    origin=date,
)


_TOO_DEEP = f"Value cannot represent JSON: it nests deeper than {MAX_DEPTH} levels."


def _shallow(value: Any) -> Any:
    if too_deep(value):
        raise StrawberryInputCoercionError(_TOO_DEEP)
    return value


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return _shallow(_json_literal(node, variables or {}))


def _json_literal(node: ValueNode, variables: dict[str, Any]) -> Any:
    """A JSON literal's value with the variables it holds put in. graphql-core's untyped
    reading leaves an unset variable as its `Undefined`, which reached the service inside
    the value and failed the request ("Unexpected error.": the idempotency hash could not
    encode it). An object's field whose variable is unset is left out, as GraphQL leaves
    out an input object's field; a list's item becomes null, since leaving it out would
    move every later item to another index (a list has no name to leave out)."""
    if isinstance(node, VariableNode):
        return variables.get(node.name.value, Undefined)
    if isinstance(node, ObjectValueNode):
        fields = ((f.name.value, _json_literal(f.value, variables)) for f in node.fields)
        return {name: value for name, value in fields if value is not Undefined}
    if isinstance(node, ListValueNode):
        items = (_json_literal(item, variables) for item in node.values)
        return [None if item is Undefined else item for item in items]
    return value_from_ast_untyped(node)


# A value goes out inside a response, which nests it in its own objects and lists: as many
# as a document of the deepest selection allowed (12 by default) with a list at each.
_RESPONSE_HEADROOM = 64


def _nest(levels: int) -> tuple[list[Any], list[Any]]:
    """Lists `levels` deep, and the innermost one, whose one item is a value's slot."""
    innermost: list[Any] = [None]
    outermost = innermost
    for _ in range(levels - 1):
        outermost = [outermost]
    return outermost, innermost


_AROUND, _SLOT = _nest(_RESPONSE_HEADROOM)


def _serialize_json(value: Any) -> Any:
    """The value, if the response's encoder (orjson) can encode it inside a response; a
    field error with UNSERVABLE_VALUE otherwise, so that a value kept before the bound on
    what comes in (or written around the API) fails its own field, not the whole response
    as a 500. Encoded once here, nested as deep as a response may nest it: in C, a
    fraction of what a walk in Python cost (0.5 against 2.9 µs for a small object, 10
    against 460 µs for one of 200 keys)."""
    _SLOT[0] = value
    try:
        orjson.dumps(_AROUND)
    except orjson.JSONEncodeError as exc:
        raise GraphQLError(
            f"This value was kept in a form JSON cannot carry ({exc}); set it again.",
            extensions={"code": "UNSERVABLE_VALUE"},
        ) from None
    finally:
        _SLOT[0] = None
    return value


_STRAWBERRY_JSON = DEFAULT_SCALAR_REGISTRY[JSON_TYPE]
JSON = ScalarDefinition(
    name="JSON",
    description=f"{_STRAWBERRY_JSON.description} Nested at most {MAX_DEPTH} levels deep.",
    specified_by_url=_STRAWBERRY_JSON.specified_by_url,
    serialize=_serialize_json,
    parse_value=_shallow,
    parse_literal=_parse_json_literal,
    origin=JSON_TYPE,
)


def parse_serial(raw: str) -> int | None:
    """A positive bigint id given as text (an ID argument, a cursor's number), or None.
    `isascii`: str.isdigit also accepts digits such as "²" that int() refuses."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_BIGINT else None


def parse_id(raw: str) -> UUID | None:
    """A UUID id given as text, or None: an unparsable id is as unknown as a missing one."""
    try:
        return UUID(raw)
    except ValueError:
        return None
