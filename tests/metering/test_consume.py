"""usageConsume and entitlementCheck end to end: exact limits, idempotency, reason codes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from tests.conftest import Api, MakeApi, api_key, eventually, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK, CONSUME


def consume_vars(
    account_id: UUID, key: str, amount: float = 1, metric: str = "m0"
) -> dict[str, Any]:
    return {"id": str(account_id), "metric": metric, "amount": amount, "key": key}


async def test_400_concurrent_consumers_against_a_limit_of_100_get_exactly_100(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # hard 100
    key = await api_key(conn)
    async with make_api(pool_max=40) as api:
        responses = await asyncio.gather(
            *(api.data(CONSUME, consume_vars(account_id, f"k{i}"), auth=key) for i in range(400))
        )
    kinds = [r["usageConsume"]["__typename"] for r in responses]
    assert kinds.count("UsageConsumed") == 100
    assert kinds.count("QuotaExceeded") == 300
    used = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = 'm0'", account_id
    )
    assert used == 100
    daily = await conn.fetchval(
        "select sum(value) from usage_daily where account_id = $1 and metric_key = 'm0'",
        account_id,
    )
    assert daily == 100  # the denied 300 reached neither the counter nor the daily bucket
    denied = next(
        r["usageConsume"] for r in responses if r["usageConsume"]["__typename"] == "QuotaExceeded"
    )
    assert denied["quota"] == 100 and denied["used"] == 100 and denied["requested"] == 1
    assert denied["resetsAt"].startswith((NOW + timedelta(days=20)).date().isoformat())


async def test_an_amount_above_the_limit_is_denied_without_writing_anything(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])  # hard 100
    key = await api_key(conn)

    denied = (await api.data(CONSUME, consume_vars(account_id, "big", 101), auth=key))[
        "usageConsume"
    ]
    granted = (await api.data(CONSUME, consume_vars(account_id, "all", 100), auth=key))[
        "usageConsume"
    ]

    assert denied["__typename"] == "QuotaExceeded"
    assert denied["used"] == 0 and denied["requested"] == 101
    assert granted["__typename"] == "UsageConsumed" and granted["used"] == 100
    rows = await conn.fetch(
        """select value from usage_counters where account_id = $1
           union all select value from usage_daily where account_id = $1""",
        account_id,
    )
    assert [r["value"] for r in rows] == [100, 100]


async def test_a_soft_limit_lets_the_overage_through_and_says_so(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])  # soft 1000
    key = await api_key(conn)
    first = await api.data(CONSUME, consume_vars(account_id, "a", 999), auth=key)
    assert first["usageConsume"]["overage"] is False
    over = (await api.data(CONSUME, consume_vars(account_id, "b", 5), auth=key))["usageConsume"]
    assert over == {
        "__typename": "UsageConsumed",
        "used": 1004.0,
        "limit": 1000.0,
        "remaining": 0.0,
        "overage": True,
        "replayed": False,
    }


async def test_the_same_key_replays_and_other_arguments_are_refused(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    first = (await api.data(CONSUME, consume_vars(account_id, "same", 10), auth=key))[
        "usageConsume"
    ]
    again = (await api.data(CONSUME, consume_vars(account_id, "same", 10), auth=key))[
        "usageConsume"
    ]
    assert first["replayed"] is False and again["replayed"] is True
    assert again["used"] == first["used"] == 10
    other = (await api.data(CONSUME, consume_vars(account_id, "same", 11), auth=key))[
        "usageConsume"
    ]
    assert other["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Keys belong to their caller: another key's "same" is a new request.
    second_key = await api_key(conn)
    theirs = await api.data(CONSUME, consume_vars(account_id, "same", 10), auth=second_key)
    assert theirs["usageConsume"]["used"] == 20


async def test_concurrent_twins_get_one_effect_and_conflicts(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    async with make_api(pool_max=20) as api:
        responses = await asyncio.gather(
            *(api.data(CONSUME, consume_vars(account_id, "twin", 3), auth=key) for _ in range(20))
        )
    results = [r["usageConsume"] for r in responses]
    fresh = [r for r in results if r["__typename"] == "UsageConsumed" and not r["replayed"]]
    assert len(fresh) == 1
    assert all(
        r.get("code") == "IDEMPOTENCY_CONFLICT" or r.get("replayed") is True
        for r in results
        if r is not fresh[0]
    )
    used = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = 'm0'", account_id
    )
    assert used == 3


async def test_bad_consume_input_is_typed(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)

    async def outcome(**kw: Any) -> dict[str, Any]:
        variables = {**consume_vars(account_id, "k"), **kw}
        result: dict[str, Any] = (await api.data(CONSUME, variables, auth=key))["usageConsume"]
        return result

    assert (await outcome(metric="nope"))["code"] == "INVALID_INPUT"
    assert (await outcome(amount=0))["code"] == "INVALID_INPUT"
    assert (await outcome(amount=1e308))["code"] == "INVALID_INPUT"  # a sum of two overflowed
    assert (await outcome(key=""))["code"] == "INVALID_INPUT"
    assert (await outcome(id="00000000-0000-0000-0000-000000000000"))["code"] == "NOT_FOUND"
    frontend = await api.data(
        CONSUME, consume_vars(account_id, "f"), auth=frontend_token(account_id)
    )
    assert frontend["usageConsume"]["code"] == "FORBIDDEN"
    assert await conn.fetchval("select count(*) from idempotency_keys") == 0


STATUS = """mutation($id: ID!, $s: DunningStatus!, $v: Int!, $key: String!) {
  subscriptionSetStatus(accountId: $id, status: $s, expectedVersion: $v, idempotencyKey: $key) {
  __typename } }"""


async def set_status(api: Api, key: str, account_id: UUID, status: str) -> None:
    version = await _subscription_version(api, key, account_id)
    variables = {"id": str(account_id), "s": status, "v": version, "key": f"status-{status}"}
    data = await api.data(STATUS, variables, auth=key)
    assert data["subscriptionSetStatus"]["__typename"] == "SubscriptionChanged", data


async def _subscription_version(api: Api, key: str, account_id: UUID) -> int:
    query = "query($id: ID!) { account(id: $id) { ... on Account { subscription { version } } } }"
    data = await api.data(query, {"id": str(account_id)}, auth=key)
    version: int = data["account"]["subscription"]["version"]
    return version


async def check(api: Api, auth: str, account_id: UUID, **kw: Any) -> dict[str, Any]:
    data = await api.data(CHECK, {"id": str(account_id), **kw}, auth=auth)
    result: dict[str, Any] = data["entitlementCheck"]
    return result


async def test_every_check_reason_is_reachable_and_denials_are_recorded(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn, benefits=4)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    auth = frontend_token(account_id)
    await factories.grant(conn, account_id, "b1", valid_until=NOW - timedelta(minutes=1))
    await factories.usage(conn, account_id, "m0", 95)
    await conn.execute("insert into metrics values ('extra', 'x', 'x', 'sum', 'never')")

    async with make_api() as api:
        assert await check(api, auth, account_id, feature="b0") == {
            "__typename": "EntitlementCheck",
            "allowed": True,
            "reason": None,
            "remaining": None,
            "tier": None,
        }
        assert (await check(api, auth, account_id, feature="b1"))["reason"] == "EXPIRED"
        assert (await check(api, auth, account_id, feature="b2")) | {"__typename": None} == {
            "__typename": None,
            "allowed": False,
            "reason": "NOT_IN_TIER",
            "remaining": None,
            "tier": "pro",
        }
        excluded = await check(api, auth, account_id, feature="b3")
        assert (excluded["reason"], excluded["tier"]) == ("EXCLUDED", "pro")
        ok = await check(api, auth, account_id, metric="m0", requested=5)
        assert (ok["allowed"], ok["remaining"]) == (True, 5.0)
        full = await check(api, auth, account_id, metric="m0", requested=6)
        assert (full["allowed"], full["reason"], full["remaining"]) == (False, "LIMIT_REACHED", 5.0)
        assert (await check(api, auth, account_id, metric="extra"))["reason"] == "NOT_IN_TIER"
        # Through the API, as a billing system's dunning would: the change's own replica
        # answers the next check from after it.
        await set_status(api, await api_key(conn), account_id, "PAST_DUE")
        assert (await check(api, auth, account_id, feature="b0"))["reason"] == "SUSPENDED"
        # Denials are written in batches, off the checks' path: none is written yet.
        assert await conn.fetchval("select count(*) from entitlement_denials") == 0

    # ... and every one of them is written when the replica shuts down.
    denials = await conn.fetch(
        "select feature, reason, count from entitlement_denials"
        " where account_id = $1 order by 1, 2",
        account_id,
    )
    assert [tuple(r) for r in denials] == [
        ("b0", "suspended", 1),
        ("b1", "expired", 1),
        ("b2", "not_in_tier", 1),
        ("b3", "excluded", 1),
        ("extra", "not_in_tier", 1),
        ("m0", "limit_reached", 1),
    ]
    # The denials a higher tier would answer marked the account for its suggestions.
    assert await conn.fetchval(
        "select count(*) from suggestion_marks where account_id = $1", account_id
    )


async def test_checks_are_scoped_and_validated(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    mine = await factories.account(conn, cat["versions"]["basic"])
    other = await factories.account(conn, cat["versions"]["basic"])
    auth = frontend_token(mine)
    assert (await check(api, auth, other, feature="b0"))["code"] == "NOT_FOUND"
    assert (await check(api, auth, mine))["code"] == "INVALID_INPUT"
    assert (await check(api, auth, mine, feature="b0", metric="m0"))["code"] == "INVALID_INPUT"
    assert (await check(api, auth, mine, feature="nope"))["code"] == "INVALID_INPUT"
    for requested in (-1, 1e308):
        result = await check(api, auth, mine, metric="m0", requested=requested)
        assert result["code"] == "INVALID_INPUT", requested
    partner = await api_key(conn, Role.PARTNER, partner_id=await factories.partner(conn))
    assert (await check(api, partner, mine, feature="b0"))["code"] == "NOT_FOUND"


async def test_unknown_names_are_refused_before_a_denial_is_counted(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    # A suspended account's check counted a denial under any name it was given, known or
    # not: a name of 3,000 characters failed at the unique index as "Unexpected error.".
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute(
        "update subscriptions set status = 'past_due' where account_id = $1", account_id
    )
    auth = await api_key(conn)
    async with make_api() as api:
        for kw in ({"feature": "f" * 3_000}, {"metric": "m" * 3_000}, {"feature": "nope"}):
            result = await check(api, auth, account_id, **kw)
            assert result["code"] == "INVALID_INPUT", kw
        assert (await check(api, auth, account_id, feature="b0"))["reason"] == "SUSPENDED"
    denied = await conn.fetch("select feature from entitlement_denials")
    assert [r["feature"] for r in denied] == ["b0"]


async def test_concurrent_replays_of_a_finished_key_all_replay(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    # Replays took the key's advisory lock from each other: of 50, 37 got IDEMPOTENCY_CONFLICT
    # although the first request had long committed.
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    async with make_api(pool_max=50) as api:
        first = await api.data(CONSUME, consume_vars(account_id, "done", 2), auth=key)
        replays = await asyncio.gather(
            *(api.data(CONSUME, consume_vars(account_id, "done", 2), auth=key) for _ in range(50))
        )

    assert first["usageConsume"]["replayed"] is False
    assert [r["usageConsume"] for r in replays] == [
        {**first["usageConsume"], "replayed": True}
    ] * 50


async def test_a_suspended_account_consumes_nothing_and_a_retry_replays_the_refusal(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    for status in ("past_due", "canceled", None):
        account_id = await factories.account(conn, cat["versions"]["basic"])
        if status is None:
            await conn.execute("delete from subscriptions where account_id = $1", account_id)
        else:
            await conn.execute(
                "update subscriptions set status = $2 where account_id = $1", account_id, status
            )

        first, again = [
            (await api.data(CONSUME, consume_vars(account_id, f"k-{status}"), auth=key))[
                "usageConsume"
            ]
            for _ in range(2)
        ]

        why = "has no subscription" if status is None else f"is {status.replace('_', ' ')}"
        assert first == {
            "__typename": "AccountSuspendedError",
            "status": None if status is None else status.upper(),
            "replayed": False,
            "code": "ACCOUNT_SUSPENDED",
            "message": f"the account {why}: it may not consume",
        }
        assert again == {**first, "replayed": True}
        counted = "select count(*) from usage_counters where account_id = $1"
        assert await conn.fetchval(counted, account_id) == 0
        check = await api.data(CHECK, {"id": str(account_id), "metric": "m0"}, auth=key)
        assert check["entitlementCheck"]["reason"] == "SUSPENDED"  # the check agrees


async def test_a_consumption_racing_a_suspension_waits_for_it_and_is_refused(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    async with pool.acquire() as suspending, suspending.transaction():
        await suspending.execute(
            "update subscriptions set status = 'past_due' where account_id = $1", account_id
        )
        pending = asyncio.ensure_future(api.data(CONSUME, consume_vars(account_id, "k"), auth=key))
        waits = "select count(*) > 0 from pg_stat_activity where wait_event_type = 'Lock'"
        await eventually(conn, waits, True)  # the consumption waits for the suspension

    consumed = (await pending)["usageConsume"]

    assert consumed["__typename"] == "AccountSuspendedError"
    assert consumed["status"] == "PAST_DUE"


OVERRIDE = """
mutation Override($id: ID!, $metric: String!, $included: Float!, $key: String!) {
  limitOverride(accountId: $id, metric: $metric, included: $included, idempotencyKey: $key) {
    __typename ... on Error { code message }
  }
}
"""


async def limited_to(conn: asyncpg.Connection, api: Api, key: str, included: float) -> UUID:
    """An account whose limit of m0 is overridden to `included`."""
    cat = await factories.catalog(conn)
    await conn.execute(
        """insert into benefits (key, name, kind, metric_key, introduced_on)
           values ('m0_more', 'More m0', 'limit', 'm0', '2025-01-01')"""
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    variables = {"id": str(account_id), "metric": "m0", "included": included, "key": "o"}
    overridden = await api.data(OVERRIDE, variables, auth=key)
    assert overridden["limitOverride"]["__typename"] == "GrantChanged"
    return account_id


async def test_three_tenths_fill_a_limit_of_three_tenths_exactly(
    conn: asyncpg.Connection, api: Api
) -> None:
    # A float bound to a numeric was its exact binary expansion: the limit held
    # 0.29999999999999998889..., the counter 0.1000000000000000055511... a time, and the
    # third 0.1 was refused ("0.2 of 0.3 used").
    key = await api_key(conn)
    account_id = await limited_to(conn, api, key, 0.3)
    results = [
        (await api.data(CONSUME, consume_vars(account_id, f"k{i}", 0.1), auth=key))["usageConsume"]
        for i in range(4)
    ]
    assert [r["__typename"] for r in results] == ["UsageConsumed"] * 3 + ["QuotaExceeded"]
    assert [r["used"] for r in results] == [0.1, 0.2, 0.3, 0.3]
    assert results[2]["remaining"] == 0
    assert (results[3]["quota"], results[3]["requested"]) == (0.3, 0.1)
    counter = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = 'm0'", account_id
    )
    daily = await conn.fetchval(
        "select sum(value) from usage_daily where account_id = $1 and metric_key = 'm0'",
        account_id,
    )
    amount = await conn.fetchval(
        "select amount from grants where account_id = $1 and benefit_key = 'm0_more'", account_id
    )
    assert (counter, daily, amount) == (Decimal("0.3"), Decimal("0.3"), Decimal("0.3"))
    assert str(counter) == str(amount) == "0.3"


async def test_concurrent_tenths_against_a_limit_of_one_get_exactly_ten(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    key = await api_key(conn)
    async with make_api(pool_max=20) as api:
        account_id = await limited_to(conn, api, key, 1)
        responses = await asyncio.gather(
            *(
                api.data(CONSUME, consume_vars(account_id, f"k{i}", 0.1), auth=key)
                for i in range(25)
            )
        )
    kinds = [r["usageConsume"]["__typename"] for r in responses]
    assert (kinds.count("UsageConsumed"), kinds.count("QuotaExceeded")) == (10, 15)
    used = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = 'm0'", account_id
    )
    assert str(used) == "1.0"


async def test_the_smallest_float_is_consumed_as_written(
    conn: asyncpg.Connection, api: Api
) -> None:
    # 5e-324 made the counter a numeric of 1,076 digits. An amount consumed is never what
    # a share is taken of, so no lower bound holds for it; a limit of 1e308 is refused.
    key = await api_key(conn)
    account_id = await limited_to(conn, api, key, 1)
    consumed = await api.data(CONSUME, consume_vars(account_id, "tiny", 5e-324), auth=key)
    assert consumed["usageConsume"]["__typename"] == "UsageConsumed"
    used = await conn.fetchval(
        "select value from usage_counters where account_id = $1 and metric_key = 'm0'", account_id
    )
    assert used == Decimal("5e-324")
    refused = await api.data(
        OVERRIDE, {"id": str(account_id), "metric": "m0", "included": 1e308, "key": "o2"}, auth=key
    )
    assert refused["limitOverride"]["code"] == "INVALID_INPUT"


async def test_half_an_event_of_a_count_metric_is_refused_and_a_sum_takes_it(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    await conn.execute("insert into metrics values ('calls', 'Calls', 'calls', 'count', 'never')")
    await conn.execute(
        "insert into tier_limits values ($1, 'calls', 'hard', 10)", cat["versions"]["basic"]
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    refused = await api.data(CONSUME, consume_vars(account_id, "half", 0.5, "calls"), auth=key)
    assert refused["usageConsume"]["code"] == "INVALID_INPUT"
    assert "whole number" in refused["usageConsume"]["message"]
    assert await conn.fetchval("select count(*) from usage_counters") == 0
    whole = await api.data(CONSUME, consume_vars(account_id, "two", 2, "calls"), auth=key)
    assert whole["usageConsume"]["used"] == 2
    summed = await api.data(CONSUME, consume_vars(account_id, "sum", 0.5), auth=key)
    assert summed["usageConsume"]["used"] == 0.5
