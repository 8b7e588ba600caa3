"""POST /events counts every event exactly once across real processes: the same batches
sent to two replicas at once, and a replica killed with SIGKILL mid-ingest whose batches
are retried on the other."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events
from tests.fixtures.live import ServiceProcess

Batch = list[dict[str, Any]]


async def _accounts(conn: asyncpg.Connection, n: int) -> list[str]:
    """Subjects of `n` accounts: half by id, half by external id."""
    cat = await factories.catalog(conn)
    subjects: list[str] = []
    for i in range(n):
        account_id = await factories.account(conn, cat["versions"]["pro"])
        if i % 2:
            await conn.execute(
                "update accounts set external_id = $1 where id = $2", f"c{i}", account_id
            )
            subjects.append(f"c{i}")
        else:
            subjects.append(str(account_id))
    return subjects


def _batches(subjects: list[str], events: int, size: int) -> tuple[list[Batch], float]:
    """Batches in which every event appears twice, in another batch each time; returns
    them with the total of the distinct events' values."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    distinct = [
        cloud_event(
            rng.choice(subjects),
            f"e{i}",
            value=rng.randint(1, 9),
            source=f"s{i % 3}",
            at=now - timedelta(minutes=rng.randint(0, 600)),
        )
        for i in range(events)
    ]
    twice = distinct + rng.sample(distinct, len(distinct))
    batches = [twice[i : i + size] for i in range(0, len(twice), size)]
    return batches, float(sum(int(e["data"]["value"]) for e in distinct))


async def _total(conn: asyncpg.Connection) -> float:
    return float(await conn.fetchval("select coalesce(sum(value), 0) from usage_counters"))


async def _send(port: int, key: str, batches: list[Batch]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        responses = await asyncio.gather(*(post_events(http, b, auth=key) for b in batches))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    return [r.json() for r in responses]


async def test_the_same_batches_sent_to_two_replicas_at_once_count_once(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    subjects, key = await _accounts(conn, 6), await api_key(conn)
    batches, total = _batches(subjects, 600, 100)
    replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / n) for n in "ab"]
    await asyncio.gather(*(r.start() for r in replicas))
    try:
        answers = await asyncio.gather(*(_send(r.port, key, batches) for r in replicas))
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))

    results = [a for replica in answers for a in replica]
    assert sum(a["accepted"] for a in results) == 600  # of 2,400 sent
    assert sum(a["rejected"] for a in results) == 0
    assert await _total(conn) == total
    assert await conn.fetchval("select count(*) from usage_event_ids") == 600


async def test_batches_retried_after_a_replica_is_killed_mid_ingest_count_once(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    subjects, key = await _accounts(conn, 6), await api_key(conn)
    batches, total = _batches(subjects, 4_000, 50)
    doomed = ServiceProcess(dsn, JWT_SECRET, tmp_path / "a")
    survivor = ServiceProcess(dsn, JWT_SECRET, tmp_path / "b")
    await asyncio.gather(doomed.start(), survivor.start())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{doomed.port}") as http:
            sending = [asyncio.ensure_future(post_events(http, b, auth=key)) for b in batches]
            for _ in range(1_000):  # kill it once the first batch has committed
                if await _total(conn) > 0:
                    break
                await asyncio.sleep(0.01)
            await doomed.kill()
            for future in sending:
                with contextlib.suppress(httpx.TransportError):
                    await future
        before_retry = await _total(conn)
        retried = await _send(survivor.port, key, batches)  # a client retries everything
    finally:
        await survivor.stop()

    assert 0 < before_retry < total  # the kill did come mid-ingest
    assert sum(a["rejected"] for a in retried) == 0
    assert await _total(conn) == total
    assert await conn.fetchval("select count(*) from usage_event_ids") == 4_000
