"""The stored health scores: the job scores each due account once across replicas, follows
events, catches up after downtime and drops what no walk can read; and a walk through
accounts at risk gives the ranking of its first page exactly, while rounds change scores
and renewal dates between its pages."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benefitgate import db
from benefitgate.clock import FixedClock
from benefitgate.events import outbox
from benefitgate.health import refresh, scores, service
from benefitgate.health.models import Health
from benefitgate.health.ranking import Position, position
from benefitgate.scheduler import Scheduler
from tests.conftest import catalog_loader
from tests.fixtures import factories
from tests.fixtures.factories import NOW

TODAY = NOW.date()


async def _accounts(conn: asyncpg.Connection, n: int) -> list[UUID]:
    cat = await factories.catalog(conn)
    return [await factories.account(conn, cat["versions"]["basic"]) for _ in range(n)]


async def _rows(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("select count(*) from health_scores"))


async def test_racing_runs_score_each_account_once_and_a_second_run_finds_nothing_due(
    conn: asyncpg.Connection, pool: asyncpg.Pool, dsn: str
) -> None:
    ids = await _accounts(conn, 7)
    other = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        done = await asyncio.gather(
            refresh.refresh_due(pool, catalog_loader(pool), NOW),
            refresh.refresh_due(other, catalog_loader(other), NOW),
        )
    finally:
        await other.close()
    assert sum(done) == len(ids)
    assert await _rows(conn) == len(ids)
    assert await refresh.refresh_due(pool, catalog_loader(pool), NOW) == 0
    stored = await scores.current(conn, ids)
    assert set(stored) == set(ids) and all(s.scored_at >= NOW for s in stored.values())
    assert await scores.ranked_at(conn) == max(s.scored_at for s in stored.values())


async def test_one_scheduler_of_two_runs_the_job(
    conn: asyncpg.Connection, pool: asyncpg.Pool, dsn: str, clock: FixedClock
) -> None:
    await _accounts(conn, 3)
    counted: list[int] = []

    async def job(now: datetime) -> int:
        counted.append(await refresh.refresh_due(pool, catalog_loader(pool), now))
        return counted[-1]

    first, second = (Scheduler(dsn, clock, {"account health": job}, 3600) for _ in range(2))
    try:
        assert sorted(await asyncio.gather(first.tick(), second.tick())) == [False, True]
    finally:
        await first.stop()
        await second.stop()
    assert counted == [3]


async def test_events_mark_their_accounts_and_quiet_ones_do_not(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    seated, reminded, metered = await _accounts(conn, 3)
    load = catalog_loader(pool)
    assert await refresh.refresh_due(pool, load, NOW) == 3
    async with conn.transaction():
        await outbox.enqueue(conn, "seats.changed", seated, {})
        await outbox.enqueue(conn, "renewal.reminder", reminded, {})
        await outbox.enqueue(conn, "usage.recorded", metered, {})
    await conn.executemany(
        "insert into seat_assignments values (gen_random_uuid(), $1, $2, $3)",
        [(seated, f"user{n}", NOW) for n in range(8)],
    )
    later = NOW + timedelta(minutes=1)
    assert await refresh.refresh_due(pool, load, later) == 1
    stored = await scores.current(conn, [seated, reminded, metered])
    assert stored[seated].scored_at == later
    assert stored[reminded].scored_at < later and stored[metered].scored_at < later
    seat_use = {f.key: f.score for f in stored[seated].health.factors}["seat_use"]
    assert seat_use == 100  # 8 of 10 seats: read at the rescore
    assert await _rows(conn) == 4  # the seated account's score changed: a row opened


async def test_after_downtime_every_account_is_scored_again_and_closed_rows_expire(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    ids = await _accounts(conn, 4)
    load = catalog_loader(pool)
    await conn.execute(
        "insert into usage_daily (account_id, metric_key, day, value) values ($1, 'm0', $2, 5)",
        ids[0],
        TODAY - timedelta(days=1),
    )
    assert await refresh.refresh_due(pool, load, NOW) == 4
    assert await refresh.refresh_due(pool, load, NOW + timedelta(hours=1)) == 0
    back = NOW + timedelta(days=40)  # the usage slid out of the last 30 days meanwhile
    assert await refresh.refresh_due(pool, load, back) == 4
    stored = await scores.current(conn, ids)
    assert all(s.scored_at == back for s in stored.values())
    assert {f.key: f.score for f in stored[ids[0]].health.factors}["usage_trend"] == 0
    # Its old row closed at `back`, kept for walks; so did every other one: each period
    # renewed on 5 December meanwhile, so each account renews on another date.
    assert await _rows(conn) == 8
    later = back + timedelta(days=2)
    assert await refresh.refresh_due(pool, load, later) == 4
    # Closed more than a day and an hour before: gone; the current rows stay.
    assert await _rows(conn) == 4
    assert (await scores.current(conn, ids)).keys() == set(ids)


async def _score(
    conn: asyncpg.Connection, now: datetime, found: dict[UUID, tuple[int, date | None]]
) -> None:
    async with conn.transaction():
        at = await scores.begin_round(conn, now)
        await scores.record(
            conn, [(Health(i, score, []), renews) for i, (score, renews) in found.items()], at
        )
        await scores.end_round(conn, at)


_STATE = st.tuples(st.integers(0, 4), st.sampled_from([0, 3, 9, 29, 30, 31, None]))


async def _walk_while_rescoring(dsn: str, data: st.DataObject) -> None:
    conn = await db.connect(dsn)
    try:
        ids = [r["id"] for r in await conn.fetch("select id from accounts order by id")]
        if not ids:
            ids = await _accounts(conn, 14)
        await conn.execute("delete from health_scores; update health_ranking set ranked_at = null")

        def draw(subset: list[UUID]) -> dict[UUID, tuple[int, date | None]]:
            states = data.draw(st.lists(_STATE, min_size=len(subset), max_size=len(subset)))
            return {
                i: (score, None if days is None else TODAY + timedelta(days=days))
                for i, (score, days) in zip(subset, states, strict=True)
            }

        first_state = draw(ids)
        await _score(conn, NOW, first_state)
        want = sorted(
            (
                i
                for i, (_, renews) in first_state.items()
                if renews and renews <= TODAY + timedelta(days=30)
            ),
            key=lambda i: (first_state[i][0], i.bytes),
        )
        size = data.draw(st.integers(1, 5))
        walked: list[UUID] = []
        after: Position | None = None
        now = NOW
        while True:
            page, more, walk = await service.at_risk(conn, 30, None, now, after, size)
            assert walk is not None and walk.as_of == (after.as_of if after else NOW)
            walked += [s.health.account_id for _, s in page]
            if not more:
                break
            after = position(walk, page[-1][1])
            now += timedelta(seconds=1)
            changed = data.draw(st.lists(st.sampled_from(ids), unique=True))
            await _score(conn, now, draw(changed))
        assert walked == want
    finally:
        await conn.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_walk_gives_its_first_pages_ranking_exactly_while_scores_change(
    dsn: str, data: st.DataObject
) -> None:
    asyncio.run(_walk_while_rescoring(dsn, data))
