"""The body of `POST /events` as JSON: orjson, and a slower reading where orjson refuses a
document JSON allows, so that one event's number no float holds refuses that event alone.

orjson refuses a whole document for a number past the range of a double (`1e400`,
`-1e400`, an integer of 400 digits), which is JSON all the same (RFC 8259, 6, lets an
implementation bound the range of its numbers; it does not make them errors of the text):
a batch with one such event lost every event in it. Only when orjson fails is the body
read again, by the standard library's parser, with each such number marked `Unholdable`;
`unholdable` then refuses each event that holds one, with its reason, and the others go
on. What that parser reads and orjson does not stays refused whole, with orjson's error:
NaN and Infinity (RFC 8259, 6, does not permit them: a body with them is not JSON, as any
other text outside the grammar is; the standard library reads them as an extension), text
that is not UTF-8, a lone surrogate escape (no Unicode text holds one). A body nested
deeper than either parser reads (orjson 1,024 levels, the standard library about 1,000)
is refused whole too, saying so: no event of it can be told from the others.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

import orjson

from benefitgate.cloudevents.format import Refused
from benefitgate.common.nesting import MAX_DEPTH
from benefitgate.common.quantities import USAGE_RANGE
from benefitgate.common.text import cut
from benefitgate.metering.models import Rejection

__all__ = ["TOO_DEEP", "Unholdable", "Unreadable", "decode", "unholdable"]


TOO_DEEP = (
    "the body nests too deep to be read (about 1,000 levels at most; "
    f"an event's `data` may nest {MAX_DEPTH})"
)
# The integers orjson reads as integers; it reads any other as a float, as `_int` does.
_SMALLEST, _LARGEST = -(2**63), 2**64 - 1
_DIGITS = len(str(_LARGEST))


class Unreadable(Exception):
    """The body is refused whole: not JSON, or nested too deep to be read."""


class Unholdable:
    """A number of the body no float holds, as the client wrote it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Constant(ValueError):
    """NaN, Infinity or -Infinity: not JSON."""


def decode(body: bytes) -> tuple[Any, bool]:
    """The decoded body, and whether its events must pass `unholdable` (only when orjson
    refused it and the slower reading did not). Raises Unreadable for a body refused whole."""
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError as exc:
        refused = exc
    try:
        decoded = json.loads(
            body.decode(),  # strictly UTF-8, as orjson reads: json.loads(bytes) takes UTF-16
            parse_float=_float,
            parse_int=_int,
            parse_constant=_constant,
        )
    except RecursionError:
        raise Unreadable(TOO_DEEP) from None
    except json.JSONDecodeError as exc:
        # Past the place orjson stopped at, this parser names the fault orjson never reached.
        named = exc if exc.pos > refused.pos else refused
        raise Unreadable(f"the body is not JSON: {named}") from None
    except UnicodeDecodeError as exc:
        # orjson says "str is not valid UTF-8: surrogates not allowed" for any such byte.
        raise Unreadable(f"the body is not UTF-8: byte {exc.start} is {exc.reason}") from None
    except _Constant:
        raise Unreadable(f"the body is not JSON: {refused}") from None
    if _holds_surrogate(decoded):
        raise Unreadable(f"the body is not JSON: {refused}")
    return decoded, True


def _float(text: str) -> float | Unholdable:
    value = float(text)
    return Unholdable(text) if math.isinf(value) else value


def _int(text: str) -> int | float | Unholdable:
    """As orjson reads an integer: within 64 bits an int, a float past them. The length
    first: int() refuses more than 4,300 digits."""
    if len(text.lstrip("-")) <= _DIGITS:
        value = int(text)
        if _SMALLEST <= value <= _LARGEST:
            return value
    return _float(text)


def _constant(name: str) -> NoReturn:
    raise _Constant(name)


def _holds_surrogate(value: Any) -> bool:
    """Whether a key or string holds a lone surrogate. Iterative: the body may nest about
    a thousand deep."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodable(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def unholdable(raw: Any) -> Refused | None:
    """Why an event of a body read by the slower parser is refused for a number no float
    holds, or None: a `data.value` is out of range, as a string holding the same number
    is; anywhere else (a property, an extension attribute) the event holds a value the
    service cannot read as written, which the format does not allow. An event that is not
    an object is left to the format, which refuses it as such."""
    if not isinstance(raw, dict):
        return None
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("value"), Unholdable):
        return Refused(Rejection.VALUE_OUT_OF_RANGE, USAGE_RANGE)
    pending: list[tuple[str, Any]] = [(cut(key), inner) for key, inner in raw.items()]
    while pending:
        at, item = pending.pop()
        if isinstance(item, Unholdable):
            message = f"`{at}` is {cut(item.text)}, a number past the range of a float"
            return Refused(Rejection.INVALID_EVENT, message)
        if isinstance(item, dict):
            pending.extend((f"{at}.{cut(key)}", inner) for key, inner in item.items())
        elif isinstance(item, list):
            pending.extend((f"{at}[{index}]", inner) for index, inner in enumerate(item))
    return None
