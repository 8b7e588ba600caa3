"""Faults with real processes: three `benefitgate serve` replicas on one database, the
scheduler's leader killed with SIGKILL while renewals fall due. Another replica leads
within a tick or so, and every renewal and reminder happens exactly once: none doubled,
none missed. Bounded: the renewals fall due over a few seconds, every wait has a limit,
and the replicas are stopped whatever happens."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from benefitgate.subscriptions.lifecycle import period_end_after
from tests.conftest import JWT_SECRET
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess
from tests.fixtures.metrics import scrape

TICK = 0.5  # seconds between scheduler ticks in each replica
ACCOUNTS = 30
SPREAD = 6.0  # seconds over which the renewals fall due


async def _leaders(replicas: list[ServiceProcess]) -> list[ServiceProcess]:
    scrapes = [await scrape(f"http://127.0.0.1:{r.port}/metrics") for r in replicas]
    return [
        r for r, s in zip(replicas, scrapes, strict=True) if s.value("benefitgate_scheduler_leader")
    ]


async def _until_one_leads(replicas: list[ServiceProcess], seconds: float) -> ServiceProcess:
    deadline = time.monotonic() + seconds
    while True:
        leaders = await _leaders(replicas)
        if leaders or time.monotonic() > deadline:
            assert len(leaders) == 1, f"{len(leaders)} replicas lead"
            return leaders[0]
        await asyncio.sleep(0.05)


async def _renewed(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        """select count(*) from events
           where type = 'subscription.changed' and payload->>'action' = 'subscription.renewed'"""
    )
    return count


async def _due_soon(conn: asyncpg.Connection, accounts: list[UUID]) -> dict[UUID, datetime]:
    """Make the accounts' periods end one after another over the next SPREAD seconds,
    starting a second from now; returns each period's end."""
    start = datetime.now(UTC) + timedelta(seconds=1)
    ends = {
        a: start + timedelta(seconds=SPREAD * i / len(accounts)) for i, a in enumerate(accounts)
    }
    for account, end in ends.items():
        await conn.execute(
            """update subscriptions set current_period_start = $2::timestamptz - interval '40 days',
                      current_period_end = $2, renewal_date = $3
               where account_id = $1""",
            account,
            end,
            end.date(),
        )
    return ends


async def test_killing_the_scheduler_leader_hands_over_with_each_renewal_once(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    cat = await factories.catalog(conn)
    accounts = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(ACCOUNTS)]
    started_at = await conn.fetchval("select started_at from subscriptions limit 1")
    env = {"BENEFITGATE_SCHEDULER_SECONDS": str(TICK)}
    replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / f"r{n}", env) for n in range(3)]
    # The factory's periods ended in the past of the wall clock: make them current first
    # (and too short for a reminder), so that nothing is due while the replicas start.
    await conn.execute(
        """update subscriptions set current_period_start = now() - interval '10 days',
                  current_period_end = now() + interval '1 day'"""
    )
    alive = list(replicas)
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        leader = await _until_one_leads(replicas, 10 * TICK + 5)
        ends = await _due_soon(conn, accounts)
        for _ in range(400):  # until some renewals are done and some are still to come
            if await _renewed(conn) >= ACCOUNTS // 4:
                break
            await asyncio.sleep(0.02)
        renewed_before_kill = await _renewed(conn)
        killed_at = time.monotonic()
        await leader.kill()
        alive.remove(leader)
        successor = await _until_one_leads(alive, 20 * TICK + 5)
        handover = time.monotonic() - killed_at
        for _ in range(600):  # every period has ended; the new leader catches up
            if await _renewed(conn) >= ACCOUNTS:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(3 * TICK)  # a double would show by now
    finally:
        await asyncio.gather(*(r.stop() for r in alive))

    print(f"hand-over after SIGKILL: {handover:.2f} s (tick {TICK} s); "
          f"{renewed_before_kill} of {ACCOUNTS} renewed before the kill")  # fmt: skip
    assert successor is not leader
    assert 0 < renewed_before_kill < ACCOUNTS  # the kill came mid-stream
    rows = await conn.fetch(
        "select account_id, current_period_end from subscriptions where account_id = any($1)",
        accounts,
    )
    expected = {a: period_end_after(end, "monthly", started_at) for a, end in ends.items()}
    assert {r["account_id"]: r["current_period_end"] for r in rows} == expected
    renewals = await conn.fetch(
        """select account_id, count(*) as n from events
           where type = 'subscription.changed' and payload->>'action' = 'subscription.renewed'
           group by account_id"""
    )
    assert {r["account_id"]: r["n"] for r in renewals} == dict.fromkeys(accounts, 1)
    reminders = await conn.fetch(
        """select account_id, payload->>'renewsAt' as at, payload->>'daysBefore' as days,
                  count(*) as n
           from events where type = 'renewal.reminder' group by 1, 2, 3"""
    )
    assert all(r["n"] == 1 for r in reminders)  # never twice
    first = {
        (r["account_id"], datetime.fromisoformat(r["at"])) for r in reminders if r["days"] == "30"
    }
    assert {(a, end) for a, end in ends.items()} <= first  # none missed
