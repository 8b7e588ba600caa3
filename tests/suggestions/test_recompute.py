"""The suggestion job's recompute of a batch: open suggestions whose evidence grew are
updated in place in one statement, each with its own evidence, and the job lets the event
loop it shares with requests turn between slices of accounts. A run recomputes the
accounts marked when it began, and ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.catalog.models import Catalog
from benefitgate.metering import repository as metering
from benefitgate.suggestions import service
from benefitgate.suggestions.engine import propose
from benefitgate.suggestions.models import Evidence
from benefitgate.usage import evidence
from tests.conftest import catalog_loader
from tests.fixtures import factories
from tests.fixtures.factories import NOW


async def _deny(conn: asyncpg.Connection, counts: dict[UUID, int], at: Any) -> None:
    rows = [(a, "b1", "not_in_tier", n, at, at) for a, n in sorted(counts.items())]
    await metering.record_denials(conn, rows)


async def _recompute(conn: asyncpg.Connection, pool: asyncpg.Pool, ids: list[UUID]) -> None:
    snapshot = await catalog_loader(pool)()
    async with conn.transaction():
        await service.recompute(conn, ids, snapshot, NOW)


async def test_suggestions_updated_in_place_keep_their_ids_each_with_its_own_evidence(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    ids = [await factories.account(conn, cat["versions"]["basic"]) for _ in range(3)]
    await _deny(conn, {a: n for n, a in enumerate(ids, 1)}, NOW - timedelta(hours=1))
    await _recompute(conn, pool, ids)
    opened = dict(await conn.fetch("select account_id, id from suggestions"))
    await _deny(conn, {a: 10 * n for n, a in enumerate(ids, 1)}, NOW)
    updates: list[str] = []
    conn.add_query_logger(
        lambda q: updates.append(q.query) if "update suggestions" in q.query else None
    )

    await _recompute(conn, pool, ids)

    rows = await conn.fetch("select account_id, id, version, reasons from suggestions")
    assert {r["account_id"]: r["id"] for r in rows} == opened
    observed = {r["account_id"]: r["reasons"][0]["observed"] for r in rows}
    assert observed == {a: 11.0 * n for n, a in enumerate(ids, 1)}
    assert {r["version"] for r in rows} == {2}
    # One statement writes the three, and one stamps every current suggestion as evaluated.
    assert len(updates) == 2


async def test_a_recompute_lets_the_event_loop_turn_between_slices(
    conn: asyncpg.Connection, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = await factories.catalog(conn)
    # Accounts without evidence: no proposal, no suggestion, so no statement between them.
    ids = [
        await factories.account(conn, cat["versions"]["basic"]) for _ in range(3 * service.SLICE)
    ]
    turns = 0
    seen: list[int] = []

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    def counting(evidence: Evidence, *args: Any) -> Any:
        seen.append(turns)
        return propose(evidence, *args)

    monkeypatch.setattr("benefitgate.suggestions.service.propose", counting)
    task = asyncio.create_task(ticker())
    try:
        await _recompute(conn, pool, ids)
    finally:
        task.cancel()

    assert len(seen) == len(ids)
    slices = [seen[i : i + service.SLICE] for i in range(0, len(seen), service.SLICE)]
    assert all(len(set(s)) == 1 for s in slices)  # a slice runs in one turn
    assert len({s[0] for s in slices}) == len(slices)  # the loop turned between slices


async def test_accounts_marked_while_the_job_runs_wait_for_its_next_run(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    before, during = [await factories.account(conn, cat["versions"]["basic"]) for _ in "ab"]
    await evidence.mark(conn, [before], NOW)
    load = catalog_loader(pool)

    async def catalog_while_checks_are_denied() -> Catalog:
        await evidence.mark(conn, [during], NOW)  # a denial flushed as the run goes on
        return await load()

    await service.refresh_marked(pool, catalog_while_checks_are_denied, NOW)

    # The run ends: it would otherwise go on for as long as marks kept coming.
    left = await conn.fetch("select account_id from suggestion_marks")
    assert [r["account_id"] for r in left] == [during]
    await service.refresh_marked(pool, load, NOW)
    assert await conn.fetchval("select count(*) from suggestion_marks") == 0  # the next run
