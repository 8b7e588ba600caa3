"""Account rows build their subscription positionally, so the column list must follow the
order of Subscription's fields."""

from __future__ import annotations

import dataclasses
import re

from benefitgate.accounts import repository
from benefitgate.accounts.models import Subscription


def test_subscription_columns_follow_the_fields_of_subscription() -> None:
    columns = re.findall(r"\bs\.(\w+)(?: as \w+)?", repository.ACCOUNT_COLUMNS)
    all_columns = [c.strip() for c in repository.ACCOUNT_COLUMNS.split(",")]
    assert all_columns[repository._SUBSCRIPTION_AT].startswith("s.id")
    assert columns == [f.name for f in dataclasses.fields(Subscription)]
