"""The job ranks every open suggestion it recomputes, changed or not: during a rollout (and
after an image rolled back) replicas of the release before migration 0031 run the job on
the new schema and write no ranking, opening suggestions without a row and changing
confidences in place. A suggestion kept as it was had no ranking written again, so the
list never gave one opened so (until its evidence changed) and ranked one rescored so by
its old confidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.clock import FixedClock
from benefitgate.suggestions.service import STALE_AFTER
from tests.conftest import Api
from tests.suggestions.test_suggestions import LIST, current, deny, refresh
from tests.suggestions.test_suggestions import setup as setup  # a fixture

# What a replica of the release before leaves behind it: the open suggestion's row with
# no ranking (it opened it), or ranked by the confidence it had before it rescored it.
OLDER_RELEASE = {
    "opened": "delete from suggestion_rankings",
    "rescored": "update suggestion_rankings set confidence = 0.11 where valid_until is null",
}


@pytest.mark.parametrize("left", sorted(OLDER_RELEASE))
async def test_a_suggestion_an_older_release_wrote_is_ranked_when_next_recomputed(
    api: Api,
    setup: dict[str, Any],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    clock: FixedClock,
    left: str,
) -> None:
    account, admin = setup["account"], setup["admin"]
    for _ in range(2):
        await deny(api, {"id": str(account), "feature": "b1"}, admin)
    await refresh(pool, clock)
    opened = await current(api, account, admin)
    await conn.execute(OLDER_RELEASE[left])

    clock.at += STALE_AFTER + timedelta(minutes=1)  # recomputed as a day old, evidence unchanged
    await refresh(pool, clock)

    assert (await current(api, account, admin))["version"] == opened["version"]  # kept
    walk = (await api.data(LIST, {"first": 5}, auth=admin))["suggestions"]
    assert [(e["rankedConfidence"], e["node"]["confidence"]) for e in walk["edges"]] == [
        (opened["confidence"], opened["confidence"])
    ]
