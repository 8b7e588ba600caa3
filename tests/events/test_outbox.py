import asyncio

import asyncpg

from benefitgate import db
from benefitgate.auth.principals import Role
from benefitgate.events import outbox as events
from benefitgate.events import readable
from benefitgate.events.outbox import START, Cursor, EventScope
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories

ALL = EventScope(everything=True)


async def test_a_transaction_that_commits_late_is_not_skipped(
    dsn: str, conn: asyncpg.Connection
) -> None:
    early = await db.connect(dsn)
    try:
        slow = early.transaction()
        await slow.start()
        await events.enqueue(early, "test.early", None, {"n": 1})  # takes the lower txid and id
        await events.enqueue(conn, "test.late", None, {"n": 2})  # commits first

        while_open = await events.read_feed(conn, START, 10, ALL)
        await slow.commit()
        after_commit = await events.read_feed(conn, START, 10, ALL)
    finally:
        await early.close()

    assert while_open == []  # the later row waits behind the open transaction
    assert [e.type for e in after_commit] == ["test.early", "test.late"]


async def test_a_listener_reads_events_with_their_partners_and_what_is_held_back(
    dsn: str, conn: asyncpg.Connection
) -> None:
    cat = await factories.catalog(conn)
    managed = await factories.partner(conn)
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=managed)
    other = await factories.partner(conn)
    await conn.execute("insert into partner_accounts values ($1, $2)", other, account)
    first = await events.enqueue(conn, "test.managed", account, {})
    await events.enqueue(conn, "test.global", None, {})
    late = await db.connect(dsn)
    try:
        open_transaction = late.transaction()
        await open_transaction.start()
        await late.fetchval("select pg_current_xact_id()")  # older than the next event
        await events.enqueue(conn, "test.waits", None, {})
        while_open = await events.read_new(conn, START, 10, await readable.take(conn))
        await open_transaction.rollback()
    finally:
        await late.close()
    after = await events.read_new(conn, while_open.events[-1].cursor, 10, while_open.probe)

    assert [e.type for e in while_open.events] == ["test.managed", "test.global"]
    assert while_open.events[0].id == first
    assert while_open.partners == {account: frozenset({managed, other})}
    assert while_open.held_back
    assert [e.type for e in after.events] == ["test.waits"] and not after.held_back


async def test_the_feed_resumes_from_a_cursor_without_repeats(conn: asyncpg.Connection) -> None:
    for n in range(5):
        await events.enqueue(conn, "test.n", None, {"n": n})

    first = await events.read_feed(conn, START, 2, ALL)
    rest = await events.read_feed(conn, first[-1].cursor, 10, ALL)

    assert [e.payload["n"] for e in first + rest] == [0, 1, 2, 3, 4]
    assert events.Cursor.decode(first[-1].cursor.encode()) == first[-1].cursor


async def test_concurrent_writers_are_all_read_exactly_once(
    dsn: str, conn: asyncpg.Connection
) -> None:
    async def writer(n: int) -> None:
        c = await db.connect(dsn)
        try:
            async with c.transaction():
                await events.enqueue(c, "test.w", None, {"n": n})
                await asyncio.sleep(0.001 * (n % 7))
        finally:
            await c.close()

    seen: list[int] = []
    cursor = START
    tasks = [asyncio.create_task(writer(n)) for n in range(40)]
    while len(seen) < 40:
        page = await events.read_feed(conn, cursor, 7, ALL)
        seen += [e.payload["n"] for e in page]
        cursor = page[-1].cursor if page else cursor
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)

    assert sorted(seen) == list(range(40))


async def test_the_graphql_feed_is_scoped_to_the_caller(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    managed = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    other = await factories.account(conn, cat["versions"]["basic"])
    await events.enqueue(conn, "test.managed", managed, {})
    await events.enqueue(conn, "test.other", other, {})
    await events.enqueue(conn, "catalog.published", None, {})
    query = (
        "{ events(first: 10) { ... on EventPage { events { type accountId } hasMore endCursor } } }"
    )

    as_partner = await api.data(query, auth=await api_key(conn, Role.PARTNER, partner))
    as_frontend = await api.data(query, auth=frontend_token(other))
    as_admin = await api.data(query, auth=await api_key(conn))

    def types(page: dict[str, dict[str, list[dict[str, str]]]]) -> list[str]:
        return [e["type"] for e in page["events"]["events"]]

    assert types(as_partner) == ["test.managed", "catalog.published"]
    assert types(as_frontend) == ["test.other", "catalog.published"]
    assert types(as_admin) == ["test.managed", "test.other", "catalog.published"]
    cursor = as_admin["events"]["endCursor"]
    after = await api.data(
        "query($c: String) { events(after: $c) { ... on EventPage { events { type } } } }",
        {"c": cursor},
        auth=await api_key(conn),
    )
    assert after["events"]["events"] == []


async def test_a_bad_cursor_is_invalid_input(conn: asyncpg.Connection, api: Api) -> None:
    key = await api_key(conn)
    # Numbers past bigint reached the database, which refused them as an unexpected error.
    too_large = [Cursor(2**63, 1).encode(), Cursor(1, 10**20).encode()]
    for after in ["garbage!", *too_large]:
        data = await api.data(
            "query($c: String) { events(after: $c) { ... on InvalidInputError { code field } } }",
            {"c": after},
            auth=key,
        )
        assert data["events"] == {"code": "INVALID_INPUT", "field": "after"}, after
