"""Peer benchmarks end to end on crafted peer sets: the accounts on the same tier, over the
last complete month, shown only from 10 peers, and nothing about one peer in the answer."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.statements import StatementLog

BENCHMARKS = """
query Benchmarks($id: ID!) { account(id: $id) { ... on Account { benchmarks {
  month metrics { metric { key } percentile } outcomes { outcome { key } percentile } } } } }
"""
OCTOBER = date(2026, 10, 12)  # in the last complete month before the tests' clock


async def _crafted(conn: asyncpg.Connection, mine: float, peers: list[float]) -> dict[str, Any]:
    """An account valued `mine` on m0 in October, and one peer on its tier per value; plus
    accounts that are no peers: one on another tier, one canceled on the same tier. Hours
    saved is measured by m0; time to insight, which should decrease, by m1."""
    cat = await factories.catalog(conn)
    await conn.execute("update outcomes set metric_key = 'm0' where key = 'hours_saved'")
    await conn.execute(
        "insert into outcomes values ('insight', 'Time to insight', 'days', 'decrease', '', 'm1')"
    )
    basic, pro = cat["versions"]["basic"], cat["versions"]["pro"]
    account_id = await factories.account(conn, basic)
    peer_ids = [await factories.account(conn, basic) for _ in peers]
    others = [await factories.account(conn, pro), await factories.account(conn, basic)]
    await conn.execute("update subscriptions set status = 'canceled' where account_id = $1",
                       others[1])  # fmt: skip
    rows = [(account_id, "m0", mine), (account_id, "m1", mine)]
    rows += [(p, "m0", v) for p, v in zip(peer_ids, peers, strict=True)]
    rows += [(p, "m1", v) for p, v in zip(peer_ids, peers, strict=True)]
    rows += [(o, "m0", 0.0) for o in others]  # below the account: would raise it if counted
    await conn.executemany(
        "insert into usage_daily (account_id, metric_key, day, value) values ($1, $2, $3, $4)",
        [(a, m, OCTOBER, v) for a, m, v in rows],
    )
    return {"account": account_id, "peers": peer_ids, "others": others}


async def _benchmarks(api: Api, account_id: UUID, auth: str | None = None) -> dict[str, Any]:
    data = await api.data(
        BENCHMARKS, {"id": str(account_id)}, auth=auth or frontend_token(account_id)
    )
    found: dict[str, Any] = data["account"]["benchmarks"]
    return found


def _by_key(found: dict[str, Any]) -> dict[str, int | None]:
    metrics = {m["metric"]["key"]: m["percentile"] for m in found["metrics"]}
    outcomes = {o["outcome"]["key"]: o["percentile"] for o in found["outcomes"]}
    return {**metrics, **outcomes}


async def test_exactly_ten_peers_on_the_tier_show_the_percentile_of_last_month(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _crafted(conn, 55, [10.0 * n for n in range(1, 11)])
    found = await _benchmarks(api, s["account"])
    assert found["month"] == "2026-10-01"
    # m0: 5 of 10 peers below; m1 too (it has the same values); insight should decrease,
    # so the account beats the 5 above it. m0 and m1 have the same percentile, as hours
    # saved (measured by m0) does.
    assert _by_key(found) == {"m0": 50, "m1": 50, "hours_saved": 50, "insight": 50}

    await conn.execute(  # this month's usage leaves last month's standing as it was
        "insert into usage_daily values ($1, 'm0', '2026-11-10', 1000000)", s["account"]
    )
    assert _by_key(await _benchmarks(api, s["account"]))["m0"] == 50


async def test_nine_peers_show_nothing_and_accounts_off_the_tier_or_canceled_are_no_peers(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _crafted(conn, 55, [10.0 * n for n in range(1, 10)])
    assert set(_by_key(await _benchmarks(api, s["account"])).values()) == {None}
    other_tier = s["others"][0]
    assert set(_by_key(await _benchmarks(api, other_tier)).values()) == {None}  # alone
    await conn.execute(
        "update subscriptions set status = 'active' where account_id = $1", s["others"][1]
    )  # a tenth peer, valued 0 on m0 and with no m1 usage (0)
    assert _by_key(await _benchmarks(api, s["account"]))["m0"] == 60  # 6 of 10 below


async def test_no_single_peer_can_be_read_from_the_answer(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A peer set with one outlier far above answers as one with that peer just above the
    account: the outlier's value is not in the answer, nor any peer's id, name or count."""
    s = await _crafted(conn, 55, [10.0 * n for n in range(1, 10)] + [60.0])
    near = await _benchmarks(api, s["account"])
    outlier = s["peers"][-1]
    await conn.execute("update usage_daily set value = 1000000000 where account_id = $1", outlier)
    far = await _benchmarks(api, s["account"])
    assert far == near
    operator = await api_key(conn, Role.OPERATOR)
    text = json.dumps(await _benchmarks(api, s["account"], operator))
    assert not any(str(p) in text for p in [*s["peers"], *s["others"]])
    assert "1000000000" not in text and "Acme" not in text
    assert set(json.loads(text)) == {"month", "metrics", "outcomes"}


PAGE = """{ accounts(first: 50) { ... on AccountConnection { edges { node {
  benchmarks { metrics { percentile } outcomes { percentile } } } } } } }"""


async def test_a_page_of_accounts_reads_every_benchmark_in_one_statement(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    s = await _crafted(conn, 55, [10.0 * n for n in range(1, 12)])
    key = await api_key(conn)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(PAGE, auth=key)
        log.statements.clear()
        data = await api.data(PAGE, auth=key)
    assert len(data["accounts"]["edges"]) == len(s["peers"]) + 3
    assert len([q for q in log.statements if "usage_daily" in q]) == 1, log.statements


async def test_a_peer_with_the_accounts_own_value_counts_half(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _crafted(conn, 50, [10.0 * n for n in range(1, 11)])
    # 4 peers below and 1 equal of 10: 45 % on m0; insight (lower is better): 5 above and
    # 1 equal, 55 %; each rounded down to a multiple of 10
    assert _by_key(await _benchmarks(api, s["account"])) == {
        "m0": 40,
        "m1": 40,
        "hours_saved": 40,
        "insight": 50,
    }
