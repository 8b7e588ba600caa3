"""How deep a JSON value given to the service may nest.

The service keeps JSON it is given (a tier's benefit parameters, an account's metadata,
audit entries of both) and encodes it again for every answer that carries it, with
orjson, which refuses more than 254 levels: a tier's parameters nested 248 deep were
accepted, and then every read of the tiers failed. A value is refused where it comes in
when it nests deeper than MAX_DEPTH, far more than any real structure needs, so that
whatever carries it (a response, an event, an audit entry) stays far from that limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_DEPTH", "too_deep"]

MAX_DEPTH = 32


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` has objects or arrays nested more than `limit` deep (a scalar is at
    depth 0, `[1]` at 1). Iterative: values may come nested deeper than Python's recursion
    limit."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, dict | list | tuple):
            continue
        inner: Iterable[Any] = item.values() if isinstance(item, dict) else item
        if depth == limit:
            return True
        pending.extend((v, depth + 1) for v in inner if isinstance(v, dict | list | tuple))
    return False
