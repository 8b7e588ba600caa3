"""Dimensions: the groups a metric's usage is also counted by, and their bound.

A metric names up to three event properties (`group_by`); an event's group is the value
of each, as text (a number or a boolean as its JSON text, a property left out as null).
An account may have at most MAX_GROUPS groups of a metric in one period: an event that
would open one more is rejected (TOO_MANY_GROUPS), so that a property such as a request
id cannot make the tables grow without bound. The bound is exact under concurrency: a
batch takes a transaction lock on each (account, metric, period) it opens groups in
before it reads which groups exist, and keeps it until it commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
import orjson

from benefitgate.metering import repository
from benefitgate.metering.models import UsageEvent
from benefitgate.metering.repository import CounterKey, EventKey

__all__ = [
    "MAX_DIMENSION",
    "MAX_GROUPS",
    "InvalidDimension",
    "group_of",
    "over_bound",
    "property_text",
]

MAX_GROUPS = 100
MAX_DIMENSION = 200  # characters of one property's value


class InvalidDimension(ValueError):
    pass


def property_text(value: object) -> str | None:
    """A property's value as text: a number or a boolean as its JSON text, None as None;
    one number has one text, however it was written (`7`, `7.0`, `7e0` are `7`; `-0` is
    `0`). Raises InvalidDimension for an object or an array, and for a number, integer or
    not, of 2^53 or more in magnitude (a float may hold it for several)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= _EXACT:
        # Past 2**53 a float cannot tell neighbouring integers apart, and the JSON decoder
        # reads an integer past 64 bits as one: users 2**64 + 1 and 2**64 + 2 were one.
        # An integer below 64 bits decodes exactly, but JSON does not tell 10000000000000000
        # from 1e16, nor does a client's JavaScript tell 2**53 from 2**53 + 1: refused alike.
        raise InvalidDimension(
            "a number past 2^53 in magnitude loses digits as JSON: send it as a string"
        )
    if isinstance(value, float) and value.is_integer():
        # JSON has one number type, but `7.0` decodes to a float whose text is "7.0": one
        # user sent as 7 and as 7.0 was counted twice, one region split into two groups.
        return str(int(value))
    if isinstance(value, bool | int | float):
        return orjson.dumps(value).decode()
    raise InvalidDimension("a grouped property must be text, a number or a boolean")


# Floats hold every integer below it exactly, and so do JavaScript's numbers.
_EXACT = 2**53


def group_of(event: UsageEvent, group_by: Sequence[str]) -> str | None:
    """The event's group as canonical JSON text (`{"region":"eu"}`), None for a metric
    without dimensions. Raises InvalidDimension."""
    if not group_by:
        return None
    properties: Mapping[str, object] = event.properties or {}
    values = {name: property_text(properties.get(name)) for name in group_by}
    if any(v is not None and len(v) > MAX_DIMENSION for v in values.values()):
        raise InvalidDimension(f"a grouped property is at most {MAX_DIMENSION} characters")
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode()


def canonical(dimensions: str) -> str:
    """Stored jsonb text in the form `group_of` gives."""
    return orjson.dumps(orjson.loads(dimensions), option=orjson.OPT_SORT_KEYS).decode()


async def over_bound(
    conn: asyncpg.Connection, grouped: Sequence[tuple[CounterKey, str | None, EventKey]]
) -> set[int]:
    """The positions in `grouped` ((account, metric, period start), group, (account, source,
    event id)) whose group would pass MAX_GROUPS in its period, in the caller's
    transaction; those without a group (None) never are. Locks the periods that have
    groups until the transaction ends, so that no concurrent batch can open groups there
    in the meantime.

    An event stored before (a redelivery, whose properties a careless client may have
    changed) opens no group: the write finds it a duplicate and counts it nowhere. Counted
    as opening one, it took a place a new event of the batch was then refused for, and
    at the bound it was refused itself, though counted before."""
    keys = sorted({key for key, group, _ in grouped if group is not None})
    if not keys:
        return set()
    await repository.lock_group_counters(conn, keys)
    known = {
        key: {canonical(g) for g in found}
        for key, found in (await repository.groups_of(conn, keys)).items()
    }
    # Only events that would open a group are looked up (rare once a period has its groups).
    opening = [
        e for key, group, e in grouped if group is not None and group not in known.get(key, ())
    ]
    stored = await repository.stored_event_keys(conn, opening) if opening else set()
    over = set()
    for position, (key, group, event) in enumerate(grouped):
        if group is None or event in stored:
            continue
        seen = known.setdefault(key, set())
        if group in seen:
            continue
        if len(seen) >= MAX_GROUPS:
            over.add(position)
        else:
            seen.add(group)
    return over
