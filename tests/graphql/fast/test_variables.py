"""Long lists of flat input objects take a fast path, with graphql-core's results and errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import strawberry

from benefitgate.graphql.fast import executor as executor_module
from benefitgate.graphql.fast.executor import PlainFieldExecutor
from benefitgate.graphql.fast.variables import MIN_ITEMS, flat_list_variables


@strawberry.input
class Reading:
    key: str
    at: datetime
    value: float
    owner: strawberry.ID
    count: int


@strawberry.input
class Tagged:
    key: str
    tag: str | None = None  # optional: not flat


@strawberry.type
class Query:
    @strawberry.field
    def readings(self, items: list[Reading]) -> list[str]:
        return [f"{r.key}|{r.at.isoformat()}|{r.value!r}|{r.owner}|{r.count}" for r in items]

    @strawberry.field
    def tagged(self, items: list[Tagged]) -> int:
        return len(items)


FAST = strawberry.Schema(query=Query, execution_context_class=PlainFieldExecutor)
STOCK = strawberry.Schema(query=Query)
READINGS = "query Q($items: [Reading!]!) { readings(items: $items) }"


def _reading(n: int) -> dict[str, Any]:
    return {
        "key": f"k{n}",
        "at": f"2026-11-0{n % 9 + 1}T10:00:00+00:00",
        "value": n / 3,
        "owner": n,  # an ID given as an int
        "count": n,
    }


@pytest.fixture
def fast_path_taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    taken: list[bool] = []

    def spy(*args: Any) -> Any:
        result = flat_list_variables(*args)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(executor_module, "flat_list_variables", spy)
    return taken


async def _both(query: str, items: list[Any]) -> tuple[Any, Any]:
    fast = await FAST.execute(query, variable_values={"items": items})
    stock = await STOCK.execute(query, variable_values={"items": items})
    return fast, stock


async def test_a_long_valid_list_takes_the_fast_path_with_the_stock_result(
    fast_path_taken: list[bool],
) -> None:
    fast, stock = await _both(READINGS, [_reading(n) for n in range(MIN_ITEMS + 8)])
    assert fast_path_taken == [True]
    assert fast.errors is None
    assert fast.data == stock.data


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: r.update(value="many"),
        lambda r: r.update(at="yesterday"),
        lambda r: r.update(count=1.5),
        lambda r: r.update(key=None),
        lambda r: r.update(owner=None),
        lambda r: r.pop("owner"),
        lambda r: r.update(extra=1),
    ],
    ids=["float", "datetime", "int", "null", "null id", "missing", "unknown field"],
)
async def test_one_bad_item_gets_the_stock_error(fast_path_taken: list[bool], spoil: Any) -> None:
    items = [_reading(n) for n in range(MIN_ITEMS + 8)]
    spoil(items[MIN_ITEMS + 3])
    fast, stock = await _both(READINGS, items)
    assert fast_path_taken == [False]
    assert fast.errors is not None and stock.errors is not None
    assert [e.message for e in fast.errors] == [e.message for e in stock.errors]
    assert fast.data == stock.data


async def test_short_lists_and_inputs_with_optional_fields_keep_the_stock_path(
    fast_path_taken: list[bool],
) -> None:
    await FAST.execute(READINGS, variable_values={"items": [_reading(1)]})
    tagged = [{"key": str(n)} for n in range(MIN_ITEMS + 1)]
    fast, stock = await _both("query Q($items: [Tagged!]!) { tagged(items: $items) }", tagged)
    assert fast_path_taken == [False, False]
    assert fast.data == stock.data == {"tagged": MIN_ITEMS + 1}


async def test_only_the_chosen_operation_s_variables_are_coerced(
    fast_path_taken: list[bool],
) -> None:
    document = (
        'query A { tagged(items: [{key: "x"}]) }'
        " query B($items: [Reading!]!) { readings(items: $items) }"
    )
    items = [_reading(n) for n in range(MIN_ITEMS)]
    for name in ("A", "B"):
        fast = await FAST.execute(document, variable_values={"items": items}, operation_name=name)
        stock = await STOCK.execute(document, variable_values={"items": items}, operation_name=name)
        assert fast.errors is None
        assert fast.data == stock.data
    assert fast_path_taken == [False, True]
