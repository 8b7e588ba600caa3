"""The range of every quantity a client gives, and the rule of credit amounts, shared by
grants, milestone rewards and consumptions."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from benefitgate.common.quantities import (
    MAX_PERCENT,
    MAX_QUANTITY,
    MIN_QUANTITY,
    credit_amount,
    in_range,
    is_usage,
    non_negative,
    percent_of,
)


@pytest.mark.parametrize(
    "value", [0.0, -0.0, MIN_QUANTITY, -MIN_QUANTITY, 1.0, MAX_QUANTITY, -MAX_QUANTITY]
)
def test_zero_and_quantities_from_the_smallest_to_the_largest_are_in_range(value: float) -> None:
    assert in_range(value)
    assert non_negative(value) == (value >= 0)


@pytest.mark.parametrize(
    "value",
    [5e-324, -5e-324, 2.2e-308, 9.99e-13, MAX_QUANTITY * 1.0000001, math.nan, math.inf, -math.inf],
)
def test_quantities_too_near_zero_or_too_far_from_it_are_out_of_range(value: float) -> None:
    assert not in_range(value)
    assert not non_negative(value)


@pytest.mark.parametrize("value", [5e-324, -5e-324, 0.1 + 0.2 - 0.3, 0.0, MAX_QUANTITY])
def test_usage_values_of_any_size_nearer_zero_are_taken(value: float) -> None:
    """Shares are taken of limits and targets, never of usage: its values need no lower
    bound, and a float's rounding noise is counted as the near-zero value it is."""
    assert is_usage(value)
    assert not is_usage(MAX_QUANTITY * 2) and not is_usage(math.nan)


def test_every_share_of_two_quantities_in_range_is_finite() -> None:
    """The bounds keep the largest share of one quantity in another far below infinity;
    `percent_of` still saturates for a share stored before the lower bound."""
    assert percent_of(MAX_QUANTITY, MIN_QUANTITY) == pytest.approx(1e29)
    assert percent_of(-MAX_QUANTITY, MIN_QUANTITY) == pytest.approx(-1e29)
    assert percent_of(1.0, 5e-324) == MAX_PERCENT


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, MAX_QUANTITY * 10, 1e-7, 5e-324, 0.1 + 0.2],
)
def test_what_is_no_amount_of_credit_is_refused(value: float) -> None:
    assert credit_amount(value) is None


@pytest.mark.parametrize(
    ("value", "amount"),
    [(1.0, "1.0"), (0.000001, "0.000001"), (2.5, "2.5"), (MAX_QUANTITY, "1000000000000000.0")],
)
def test_an_amount_is_taken_as_written(value: float, amount: str) -> None:
    assert credit_amount(value) == Decimal(amount)
