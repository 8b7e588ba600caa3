"""The accounts a process keeps for ingest: a lookup sees every change committed before
its statement, whether or not the listener has handed its event over yet."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg

from benefitgate.accounts.known import KnownAccounts
from benefitgate.events import outbox
from tests.fixtures import factories

# What the app keeps accounts through: ingest's own usage.recorded changes no account.
KEEP = {"usage.recorded"}


async def _tail(conn: asyncpg.Connection) -> tuple[int, int]:
    """A listener's cursor that heard everything so far, and, frozen, nothing after."""
    cursor = await outbox.tail_cursor(conn)
    return cursor.txid, cursor.id


async def _accounts(conn: asyncpg.Connection, n: int) -> list[UUID]:
    cat = await factories.catalog(conn)
    return [await factories.account(conn, cat["versions"]["basic"]) for _ in range(n)]


async def _link(conn: asyncpg.Connection, partner: UUID, account: UUID) -> None:
    """A partner linked to the account, with its event, as every change to an account is."""
    async with conn.transaction():
        await conn.execute("insert into partner_accounts values ($1, $2)", partner, account)
        await outbox.enqueue(conn, "partner.account_linked", account, {})


async def test_a_change_the_listener_has_not_handed_over_is_read_by_the_lookup(
    conn: asyncpg.Connection,
) -> None:
    [account], partner = await _accounts(conn, 1), await factories.partner(conn)
    cursor = await _tail(conn)
    known = KnownAccounts(100, lambda: cursor, KEEP)
    before = await known.get(conn, [str(account)], [])
    await _link(conn, partner, account)
    after = await known.get(conn, [str(account)], [])
    assert before[account].partner_ids == ()
    assert after[account].partner_ids == (partner,)
    assert len(known) == 1


async def test_an_account_is_kept_across_events_of_the_types_that_change_none(
    conn: asyncpg.Connection,
) -> None:
    [account] = await _accounts(conn, 1)
    cursor = await _tail(conn)
    known = KnownAccounts(100, lambda: cursor, KEEP)
    await known.get(conn, [account], [])
    # A row changed with no event of its own is not read again: the lookup used what it
    # kept (a change of this kind always comes with an event; this one shows the hit).
    await conn.execute("update accounts set name = 'Renamed' where id = $1", account)
    await outbox.enqueue(conn, "usage.recorded", account, {})
    again = await known.get(conn, [str(account)], [])
    assert again[account].name == "Acme"


async def test_a_drop_heard_while_an_account_loads_keeps_it_out(conn: asyncpg.Connection) -> None:
    [account] = await _accounts(conn, 1)
    cursor = await _tail(conn)
    known = KnownAccounts(100, lambda: cursor, KEEP)
    loading = asyncio.create_task(known.get(conn, [str(account)], []))
    await asyncio.sleep(0)  # the lookup's statement is in flight
    known.drop([account])
    assert account in await loading
    assert len(known) == 0


async def test_past_the_events_a_lookup_reads_every_account_is_read_afresh(
    conn: asyncpg.Connection,
) -> None:
    [account], partner = await _accounts(conn, 1), await factories.partner(conn)
    cursor = await _tail(conn)
    known = KnownAccounts(100, lambda: cursor, KEEP, scanned=1)
    await known.get(conn, [str(account)], [])
    await outbox.enqueue(conn, "usage.recorded", account, {})  # the one event it reads
    await _link(conn, partner, account)
    after = await known.get(conn, [str(account)], [])
    assert after[account].partner_ids == (partner,)


async def test_external_ids_are_found_kept_and_new_ones_found_at_once(
    conn: asyncpg.Connection,
) -> None:
    account, other = await _accounts(conn, 2)
    await conn.execute("update accounts set external_id = 'cus_1' where id = $1", account)
    cursor = await _tail(conn)
    known = KnownAccounts(100, lambda: cursor, KEEP)
    first = await known.get(conn, [], ["cus_1", "cus_2"])
    async with conn.transaction():
        await conn.execute("update accounts set external_id = 'cus_2' where id = $1", other)
        await outbox.enqueue(conn, "account.updated", other, {})
    second = await known.get(conn, [], ["cus_1", "cus_2"])
    assert list(first) == [account]
    assert set(second) == {account, other}


async def test_at_most_capacity_accounts_are_kept_the_least_recently_used_dropped(
    conn: asyncpg.Connection,
) -> None:
    a, b, c = await _accounts(conn, 3)
    cursor = await _tail(conn)
    known = KnownAccounts(2, lambda: cursor, KEEP)
    await known.get(conn, [a, b], [])
    await known.get(conn, [a], [])  # a is used again: b is now the least recent
    found = await known.get(conn, [c], [])
    assert list(found) == [c]
    assert len(known) == 2
    await conn.execute("update accounts set name = 'Renamed' where id = any($1)", [a, b])
    kept = await known.get(conn, [a, b], [])
    assert (kept[a].name, kept[b].name) == ("Acme", "Renamed")
