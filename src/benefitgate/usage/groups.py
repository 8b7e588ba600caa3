"""Per-request loading of a period's usage by group, for `account { usage(groupBy:) }`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import orjson
from strawberry.dataloader import DataLoader

from benefitgate.api.context import Context, RequestConnection
from benefitgate.usage import repository
from benefitgate.usage.repository import GroupKey

__all__ = ["GroupValue", "GroupsKey", "group_values_loader"]

# A period counter's groups of some properties: the counter (with its aggregation) and the
# property names to group by.
GroupsKey = tuple[GroupKey, tuple[str, ...]]
# One group: the value of each property grouped by, and the metric's value for it.
GroupValue = tuple[dict[str, str | None], float]


async def _load(db: RequestConnection, keys: Sequence[GroupsKey]) -> list[list[GroupValue]]:
    """One statement per distinct set of properties asked for (a request asks for one)."""
    found: dict[GroupsKey, list[GroupValue]] = {}
    async with db.acquire() as conn:
        for group_by in dict.fromkeys(by for _, by in keys):
            counters = [key for key, by in keys if by == group_by]
            values = await repository.group_values(conn, counters, group_by)
            for counter, groups in zip(counters, values, strict=True):
                found[counter, group_by] = [(orjson.loads(g), v) for g, v in groups]
    return [found[key] for key in keys]


def group_values_loader(context: Context) -> DataLoader[GroupsKey, list[GroupValue]]:
    return DataLoader(load_fn=partial(_load, context.db))
