"""The scheduler runs its jobs on one replica at a time, and another takes over when the
leader's process dies."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from benefitgate.clock import FixedClock
from benefitgate.scheduler import Scheduler

# A replica in its own process: it takes the lead, says so, and stays until killed.
LEADER = """
import asyncio, sys
from benefitgate.clock import SystemClock
from benefitgate.scheduler import Scheduler

async def main():
    scheduler = Scheduler(sys.argv[1], SystemClock(), {}, 3600)
    print("leading" if await scheduler.tick() else "waiting", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_one_process_leads_and_another_takes_over_when_it_dies(
    dsn: str, clock: FixedClock
) -> None:
    ran: list[datetime] = []

    async def job(now: datetime) -> int:
        ran.append(now)
        return 0

    leader = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LEADER, dsn, stdout=asyncio.subprocess.PIPE
    )
    assert leader.stdout is not None
    try:
        assert await asyncio.wait_for(leader.stdout.readline(), 30) == b"leading\n"
        follower = Scheduler(dsn, clock, {"job": job}, 3600)
        assert await follower.tick() is False
        assert ran == []
    finally:
        leader.kill()
        await leader.wait()
    try:
        for _ in range(100):  # the server notices the closed socket within moments
            if await follower.tick():
                break
            await asyncio.sleep(0.05)
        assert ran == [clock.now()]
        assert await follower.tick() is True  # it keeps the lead
        assert len(ran) == 2
    finally:
        await follower.stop()


async def test_a_failing_job_is_logged_and_the_others_still_run(
    dsn: str, clock: FixedClock
) -> None:
    ran: list[str] = []

    async def broken(now: datetime) -> int:
        raise OSError("the network went away")

    async def buggy(now: datetime) -> int:
        raise KeyError("a tier version this snapshot lacks")

    async def working(now: datetime) -> int:
        ran.append("working")
        return 1

    scheduler = Scheduler(dsn, clock, {"broken": broken, "buggy": buggy, "working": working}, 3600)
    try:
        assert await scheduler.tick() is True
        assert ran == ["working"]
    finally:
        await scheduler.stop()
