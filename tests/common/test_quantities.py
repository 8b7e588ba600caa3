"""The rule of credit amounts, shared by grants, milestone rewards and consumptions."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from benefitgate.common.quantities import MAX_QUANTITY, credit_amount


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
