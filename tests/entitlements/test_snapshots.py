"""Entitlement snapshots: kept until an event names the account, never kept from a load a
drop overlapped, bounded, and resolved for each instant without a reload."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from uuid import UUID

import asyncpg

from benefitgate.catalog.repository import load_catalog
from benefitgate.entitlements.snapshots import EntitlementSnapshots
from tests.fixtures import factories
from tests.fixtures.factories import NOW


async def _accounts(conn: asyncpg.Connection, n: int) -> list[UUID]:
    cat = await factories.catalog(conn)
    return [await factories.account(conn, cat["versions"]["basic"]) for _ in range(n)]


async def test_a_snapshot_is_kept_until_a_drop_names_its_account(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    mine, other = await _accounts(conn, 2)
    snapshots = EntitlementSnapshots(10)
    first = await snapshots.get(mine, pool.acquire)
    assert first is not None and first.account.id == mine
    assert await snapshots.get(mine, pool.acquire) is first
    snapshots.drop([other])
    assert await snapshots.get(mine, pool.acquire) is first
    snapshots.drop([mine])
    again = await snapshots.get(mine, pool.acquire)
    assert again is not None and again is not first
    assert await snapshots.get(uuid.uuid4(), pool.acquire) is None  # no such account


async def test_a_load_a_drop_overlapped_is_served_but_not_kept(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    (mine,) = await _accounts(conn, 1)
    snapshots = EntitlementSnapshots(10)

    @asynccontextmanager
    async def racing() -> AsyncIterator[asyncpg.Connection]:
        async with pool.acquire() as c:
            yield c
        # The account's event arrives after the rows were read, before the load ends.
        snapshots.drop([mine])

    served = await snapshots.get(mine, racing)
    assert served is not None and len(snapshots) == 0
    kept = await snapshots.get(mine, pool.acquire)  # a load begun after the drop is kept
    assert await snapshots.get(mine, pool.acquire) is kept and len(snapshots) == 1


async def test_at_most_capacity_accounts_are_kept_the_least_recently_used_dropped(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    a, b, c = await _accounts(conn, 3)
    snapshots = EntitlementSnapshots(2)
    kept_a = await snapshots.get(a, pool.acquire)
    await snapshots.get(b, pool.acquire)
    assert await snapshots.get(a, pool.acquire) is kept_a  # a is now the most recent
    await snapshots.get(c, pool.acquire)
    assert len(snapshots) == 2
    assert await snapshots.get(a, pool.acquire) is kept_a  # b went, not a


async def test_grants_count_from_their_start_to_their_end_without_a_reload(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    (mine,) = await _accounts(conn, 1)
    await conn.execute(
        """insert into grants (id, account_id, benefit_key, source, valid_from, valid_until)
           values ($1, $2, 'b1', 'manual', $3, $4)""",
        uuid.uuid4(),
        mine,
        NOW + timedelta(hours=1),
        NOW + timedelta(hours=2),
    )
    catalog = await load_catalog(conn)
    snapshot = await EntitlementSnapshots(10).get(mine, pool.acquire)
    assert snapshot is not None

    before = snapshot.effective(catalog, NOW)
    assert "b0" in before.held and "b1" not in before.held
    assert before.until == NOW + timedelta(hours=1)
    assert snapshot.effective(catalog, NOW + timedelta(minutes=59)) is before  # reused
    during = snapshot.effective(catalog, NOW + timedelta(hours=1))
    assert "b1" in during.held and "b1" not in during.ended
    after = snapshot.effective(catalog, NOW + timedelta(hours=2))
    assert "b1" not in after.held and "b1" in after.ended
    # No grant changes after: the next change is the subscription's, its period's end.
    assert after.until == NOW + timedelta(days=20)


async def test_a_new_catalog_snapshot_resolves_the_entitlements_anew(
    conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    # A catalog event replaces the process's catalog snapshot: checks then resolve
    # against the new one, whatever they had resolved against the old.
    (mine,) = await _accounts(conn, 1)
    snapshot = await EntitlementSnapshots(10).get(mine, pool.acquire)
    assert snapshot is not None
    old = snapshot.effective(await load_catalog(conn), NOW)
    catalog = await load_catalog(conn)
    new = snapshot.effective(catalog, NOW)
    assert new is not old and new.catalog is catalog
    assert snapshot.effective(catalog, NOW) is new
