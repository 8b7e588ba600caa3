"""Metering costs a fixed number of SQL statements: ingest whatever the batch size and
however many accounts it spans, consumption and checks one account at a time."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.metering.writer import LANES
from tests.conftest import MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.metering_api import CHECK, CONSUME, RECORD, event
from tests.fixtures.statements import StatementLog

Call = tuple[str, dict[str, Any]]


async def _statements(
    make_api: MakeApi, key: str, warm_ups: list[Call], calls: list[Call]
) -> list[int]:
    """The statements each call ran, on a pool of one connection, after calls that warm
    the connections (asyncpg introspects each type once on each: the pool's, and the one
    metric checks read their counters on)."""
    log = StatementLog()
    counted = []
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        for warm_up in warm_ups:
            await api.data(*warm_up, auth=key)
        for document, variables in calls:
            log.statements.clear()
            await api.data(document, variables, auth=key)
            counted.append(len(log.statements))
    return counted


async def _events_statements(make_api: MakeApi, key: str, batches: list[list[Any]]) -> list[int]:
    """`_statements` for batches posted to POST /events."""
    log = StatementLog()
    counted = []
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await post_events(api.client, batches[0][:1], auth=key)  # warms the connection
        for batch in batches[1:]:
            log.statements.clear()
            assert (await post_events(api.client, batch, auth=key)).status_code == 200
            counted.append(len(log.statements))
    return counted


@pytest.mark.parametrize("way", ["usageRecord", "POST /events"])
async def test_ingest_costs_the_same_statements_for_few_or_many_events_and_accounts(
    conn: asyncpg.Connection, make_api: MakeApi, way: str
) -> None:
    cat = await factories.catalog(conn)
    ids = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(20)]
    key = await api_key(conn)
    few, many = ids[:2], ids
    if way == "usageRecord":
        warm_up = (RECORD, {"events": [event(ids[0], "warm-up")]})
        batches = [
            [event(ids[n % 2], f"few-{n}") for n in range(2)],
            [event(ids[n % 20], f"many-{n}") for n in range(60)],
        ]
        calls: list[Call] = [(RECORD, {"events": b}) for b in batches]
        counted = await _statements(make_api, key, [warm_up], calls)
    else:
        counted = await _events_statements(
            make_api,
            key,
            [
                [cloud_event(ids[0], "warm-up")],
                [cloud_event(ids[n % 2], f"few-{n}") for n in range(2)],
                [cloud_event(ids[n % 20], f"many-{n}") for n in range(60)],
            ],
        )

    # The accounts, their grants, the usage milestones, and BEGIN, the write (with the
    # touch that tells the response caches and the usage.recorded events: they were two
    # statements after it, with the counters' row locks held), COMMIT (the counters stay
    # below 80 % of their limits: no thresholds, marks or awards). usageRecord reads in
    # its transaction; POST /events before the writer's (`metering.writer`), which
    # writes in a transaction for each lane the batch's accounts fall in.
    if way == "usageRecord":
        assert counted == [6, 6]
    else:
        lanes = [len({UUID(str(a)).int % LANES for a in accounts}) for accounts in (few, many)]
        assert counted == [3 + 3 * n for n in lanes]
        assert lanes[1] == LANES


async def test_a_consumption_and_a_check_cost_a_fixed_number_of_statements(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account = str(await factories.account(conn, cat["versions"]["basic"]))
    key = await api_key(conn)
    consume = {"id": account, "metric": "m0", "amount": 1}
    calls: list[Call] = [
        (CONSUME, {**consume, "key": "first"}),
        (CONSUME, {**consume, "key": "first"}),
        (CHECK, {"id": account, "metric": "m0"}),
        (CHECK, {"id": account, "feature": "b0"}),
        (CHECK, {"id": account, "metric": "m0"}),
        (CHECK, {"id": account, "feature": "b2"}),  # a denial: counted in memory
    ]

    other = str(await factories.account(conn, cat["versions"]["basic"]))
    warm_ups: list[Call] = [
        (CONSUME, {**consume, "key": "warm-up"}),
        (CHECK, {"id": other, "metric": "m0"}),  # another account: this one's snapshot is cold
    ]
    counted = await _statements(make_api, key, warm_ups, calls)

    # A consumption: the account, BEGIN, the key's lock and lookup, the subscription's status
    # (share-locked: a suspension in flight is waited for), the grants, the usage
    # milestones, the conditional add to the counter and its daily bucket, the touch that tells the
    # response caches, its usage.recorded event, the key's result, COMMIT. Its replay: the account,
    # BEGIN, the key's lock and lookup, COMMIT. The first check loads the account's entitlement
    # snapshot (the account, its grants) and reads the counter; from then on a metric's check reads
    # its counter alone (a statement it may share with concurrent checks) and a feature's check
    # reads nothing. (They were 5 and 4: the account, BEGIN, the grants, the counter for a
    # metric, COMMIT, and a denial's write on top.)
    assert counted == [12, 5, 3, 0, 1, 0]
