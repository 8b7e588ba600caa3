"""The catalog's primitives for internal tools: metrics (what usage is counted in) and
outcomes (what a customer buys for). Each change writes its audit entry and a `catalog.*`
event in the caller's transaction, as benefits do. A metric's aggregation is what its
counters mean: once any counter of it exists, it cannot change."""

from __future__ import annotations

import re
from dataclasses import asdict

import asyncpg

from benefitgate.audit.models import AuditEntry
from benefitgate.catalog import repository
from benefitgate.catalog.drafts import check_text
from benefitgate.catalog.models import Metric, Outcome
from benefitgate.catalog.service import record_change
from benefitgate.common.changes import AlreadyExists, ChangeContext, InvalidChange, TargetNotFound
from benefitgate.common.currencies import is_currency
from benefitgate.common.text import quoted

__all__ = [
    "AGGREGATIONS",
    "DIRECTIONS",
    "RESETS",
    "UNIQUE_COUNTS_UNGROUPED",
    "create_metric",
    "create_outcome",
    "update_metric",
]

AGGREGATIONS = ("sum", "count", "max", "latest", "unique_count")
RESETS = ("billing_period", "calendar_month", "never")
DIRECTIONS = ("increase", "decrease")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
MAX_GROUP_BY = 3
MAX_VALUE_CENTS = 10**12


def _check_metric(m: Metric) -> None:
    if not _KEY.fullmatch(m.key):
        raise InvalidChange("key", "a key of lowercase letters, digits and _ (at most 63)")
    check_text("name", m.name, 1, 200)
    check_text("unit", m.unit, 1, 100)
    if m.aggregation not in AGGREGATIONS:
        raise InvalidChange("aggregation", f"one of {', '.join(AGGREGATIONS)}")
    if m.reset not in RESETS:
        raise InvalidChange("reset", f"one of {', '.join(RESETS)}")
    if len(m.group_by) > MAX_GROUP_BY or len(set(m.group_by)) < len(m.group_by):
        raise InvalidChange("groupBy", f"at most {MAX_GROUP_BY} distinct property names")
    if not all(_PROPERTY.fullmatch(name) for name in m.group_by):
        raise InvalidChange("groupBy", "a property name is a letter or _, then letters, digits, _")
    _check_unique(m)


# Why a unique count takes no `groupBy`, in a metric or a series: each group would need
# its own rows of distinct values, which are not built.
UNIQUE_COUNTS_UNGROUPED = "a unique_count metric has no dimensions"


def _check_unique(m: Metric) -> None:
    """A unique_count metric names the one property whose values it counts, and no other
    metric names one; it has no dimensions (each group would need its own set of values)."""
    if (m.aggregation == "unique_count") != (m.unique_property is not None):
        raise InvalidChange("uniqueProperty", "give it with aggregation unique_count, only then")
    if m.unique_property is not None and not _PROPERTY.fullmatch(m.unique_property):
        raise InvalidChange(
            "uniqueProperty", "a property name is a letter or _, then letters, digits, _"
        )
    if m.unique_property is not None and m.group_by:
        raise InvalidChange("groupBy", UNIQUE_COUNTS_UNGROUPED)


async def create_metric(
    conn: asyncpg.Connection, change: ChangeContext, new: Metric
) -> tuple[Metric, AuditEntry]:
    """Add a metric. Raises InvalidChange (a bad field) or AlreadyExists (a taken key)."""
    _check_metric(new)
    if not await repository.insert_metric(conn, new):
        raise AlreadyExists("metric", "this key", new.key)
    event = ("catalog.metric_created", {"metric": new.key})
    entry = await record_change(
        conn, change, "metric.created", ("metric", new.key), (None, asdict(new)), event
    )
    return new, entry


async def update_metric(
    conn: asyncpg.Connection, change: ChangeContext, wanted: Metric
) -> tuple[Metric, AuditEntry]:
    """Change a metric's name, unit, reset, or (while no counter of it exists) its
    aggregation and the properties it groups by. Raises TargetNotFound or InvalidChange."""
    _check_metric(wanted)
    before = await repository.lock_metric(conn, wanted.key)
    if before is None:
        raise TargetNotFound("metric")
    for field, changed in [
        ("aggregation", wanted.aggregation != before.aggregation),
        ("groupBy", wanted.group_by != before.group_by),
        ("uniqueProperty", wanted.unique_property != before.unique_property),
    ]:
        if changed and await repository.metric_counted(conn, wanted.key):
            raise InvalidChange(field, "usage of it is counted already; define a new metric")
    await repository.update_metric(conn, wanted)
    event = ("catalog.metric_updated", {"metric": wanted.key})
    entry = await record_change(
        conn, change, "metric.updated", ("metric", wanted.key), (asdict(before), asdict(wanted)),
        event,
    )  # fmt: skip
    return wanted, entry


async def create_outcome(
    conn: asyncpg.Connection, change: ChangeContext, new: Outcome
) -> tuple[Outcome, AuditEntry]:
    """Add an outcome, measured by `metric_key` when given and valued per unit when a value
    is given. Raises InvalidChange (a bad field, an unknown metric) or AlreadyExists."""
    if not _KEY.fullmatch(new.key):
        raise InvalidChange("key", "a key of lowercase letters, digits and _ (at most 63)")
    check_text("name", new.name, 1, 200)
    check_text("unit", new.unit, 1, 100)
    check_text("description", new.description, 0, 2000)
    if new.direction not in DIRECTIONS:
        raise InvalidChange("direction", f"one of {', '.join(DIRECTIONS)}")
    if (new.value_per_unit_cents is None) != (new.value_currency is None):
        raise InvalidChange("valuePerUnit", "give an amount and a currency together")
    cents = new.value_per_unit_cents
    if cents is not None and not 0 <= cents <= MAX_VALUE_CENTS:
        raise InvalidChange("valuePerUnit", f"give 0 to {MAX_VALUE_CENTS:,} cents")
    if new.value_currency is not None and not is_currency(new.value_currency):
        raise InvalidChange("valuePerUnit", "a currency is an active ISO 4217 code such as USD")
    try:
        inserted = await repository.insert_outcome(conn, new)
    except asyncpg.ForeignKeyViolationError as exc:
        raise InvalidChange("metric", f"unknown metric {quoted(new.metric_key)}") from exc
    if not inserted:
        raise AlreadyExists("outcome", "this key", new.key)
    event = ("catalog.outcome_created", {"outcome": new.key})
    entry = await record_change(
        conn, change, "outcome.created", ("outcome", new.key), (None, asdict(new)), event
    )
    return new, entry
