"""Who hears what: a partner only its accounts, a frontend only its own, checked per event."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from benefitgate.auth import apikeys
from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START
from tests.conftest import api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.live import subscribe, until_type, ws_client


async def _two_partners(conn: asyncpg.Connection) -> tuple[list[UUID], list[UUID]]:
    cat = await factories.catalog(conn)
    partners = [await factories.partner(conn, "One"), await factories.partner(conn, "Two")]
    accounts = [
        await factories.account(conn, cat["versions"]["basic"], partner_id=p) for p in partners
    ]
    return partners, accounts


async def _stream_until_end(port: int, credential: str, **arguments: Any) -> list[dict[str, Any]]:
    async with (
        ws_client(port, credential) as session,
        contextlib.aclosing(subscribe(session, after=START.encode(), **arguments)) as stream,
    ):
        return await asyncio.wait_for(until_type(stream, "test.end"), 10)


async def test_two_partners_never_hear_each_others_accounts(
    conn: asyncpg.Connection, live_port: int
) -> None:
    partners, accounts = await _two_partners(conn)
    keys = [await api_key(conn, Role.PARTNER, p) for p in partners]
    for n in range(10):
        await events.enqueue(conn, "test.tick", accounts[n % 2], {"n": n})
    await events.enqueue(conn, "catalog.published", None, {})
    await events.enqueue(conn, "test.end", None, {})

    heard = await asyncio.gather(
        _stream_until_end(live_port, keys[0]),
        _stream_until_end(live_port, keys[1]),
        _stream_until_end(live_port, frontend_token(accounts[1])),
    )

    one, two, frontend = ([e["accountId"] for e in stream] for stream in heard)
    assert one == [str(accounts[0])] * 5 + [None, None]
    assert two == [str(accounts[1])] * 5 + [None, None]
    assert frontend == two


async def test_an_account_the_caller_may_not_see_is_not_found(
    conn: asyncpg.Connection, live_port: int
) -> None:
    partners, accounts = await _two_partners(conn)
    partner = await api_key(conn, Role.PARTNER, partners[0])
    asks = [
        (partner, accounts[1]),  # another partner's
        (partner, uuid4()),  # nobody's: the same answer, so existence is not revealed
        (frontend_token(accounts[0]), accounts[1]),
    ]
    for credential, account in asks:
        [answer] = await _stream_until_end(live_port, credential, accounts=[str(account)])
        assert answer["__typename"] == "NotFoundError" and answer["code"] == "NOT_FOUND"


async def test_access_is_checked_again_for_every_live_event(
    conn: asyncpg.Connection, live_port: int
) -> None:
    partners, accounts = await _two_partners(conn)
    key = await api_key(conn, Role.PARTNER, partners[0])
    async with (
        ws_client(live_port, key) as session,
        contextlib.aclosing(subscribe(session, after=START.encode())) as stream,
    ):
        await events.enqueue(conn, "test.before", accounts[0], {})
        first = await asyncio.wait_for(anext(stream), 10)
        await conn.execute(
            "delete from partner_accounts where partner_id = $1 and account_id = $2",
            partners[0],
            accounts[0],
        )
        await events.enqueue(conn, "test.after", accounts[0], {})
        await events.enqueue(conn, "test.end", None, {})
        rest = await asyncio.wait_for(until_type(stream, "test.end"), 10)

    assert first["type"] == "test.before"
    assert [e["type"] for e in rest] == ["test.end"]


async def test_a_revoked_api_key_ends_its_live_streams(
    conn: asyncpg.Connection, live_port: int
) -> None:
    partners, accounts = await _two_partners(conn)
    issued = await apikeys.create_key(conn, name="p", role=Role.PARTNER, partner_id=partners[0])
    async with (
        ws_client(live_port, issued.secret) as session,
        contextlib.aclosing(subscribe(session, after=START.encode())) as stream,
    ):
        await events.enqueue(conn, "test.before", accounts[0], {})
        first = await asyncio.wait_for(anext(stream), 10)
        await apikeys.revoke_key(conn, issued.key.id)
        rest = await asyncio.wait_for(until_type(stream, "test.never"), 10)

    assert first["type"] == "test.before"
    *_, closed = rest
    assert closed["__typename"] == "StreamClosedError"
    assert (closed["code"], closed["retryable"]) == ("UNAUTHENTICATED", False)


async def test_a_frontend_token_that_expires_ends_its_live_streams(
    conn: asyncpg.Connection, live_port: int, clock: FixedClock
) -> None:
    _, accounts = await _two_partners(conn)
    token = frontend_token(accounts[0], ttl=timedelta(minutes=10))
    async with (
        ws_client(live_port, token) as session,
        contextlib.aclosing(subscribe(session, after=START.encode())) as stream,
    ):
        await events.enqueue(conn, "test.before", accounts[0], {})
        first = await asyncio.wait_for(anext(stream), 10)
        clock.advance(timedelta(minutes=10))
        await events.enqueue(conn, "test.after", accounts[0], {})
        rest = await asyncio.wait_for(until_type(stream, "test.never"), 10)

    assert first["type"] == "test.before"
    [closed] = rest  # the event after expiry never went out
    assert closed["__typename"] == "StreamClosedError"
    assert (closed["code"], closed["retryable"]) == ("CREDENTIAL_EXPIRED", False)
    assert closed["resumeAfter"] == first["cursor"]


async def _links_heard(port: int, credential: str, live: bool, ready: asyncio.Event) -> list[Any]:
    """The partner ids of the link events a stream hears until `test.end`: replayed from
    the outbox, or heard live (the stream joins, then sets `ready`)."""
    async with (
        ws_client(port, credential) as session,
        contextlib.aclosing(subscribe(session, after=None if live else START.encode())) as stream,
    ):
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)  # joined the hub
        ready.set()
        heard = [await asyncio.wait_for(first, 10)]
        if heard[0]["type"] != "test.end":
            heard += await asyncio.wait_for(until_type(stream, "test.end"), 10)
    return [e["payload"].get("partnerId") for e in heard if e["type"].startswith("partner.")]


async def test_a_partner_hears_its_own_link_to_a_shared_account_not_another_partners(
    conn: asyncpg.Connection, live_port: int
) -> None:
    """Both partners heard both links to an account they share: each learnt who else
    managed it."""
    cat = await factories.catalog(conn)
    partners = [await factories.partner(conn, "One"), await factories.partner(conn, "Two")]
    shared = await factories.account(conn, cat["versions"]["basic"], partner_id=partners[0])
    await conn.execute("insert into partner_accounts values ($1, $2)", partners[1], shared)
    keys = [await api_key(conn, Role.PARTNER, p) for p in partners]
    admin = await api_key(conn, Role.ADMIN)
    readers = [*keys, frontend_token(shared), admin]
    expected = [[str(partners[0])], [str(partners[1])], *[[str(p) for p in partners]] * 2]

    for live in (False, True):
        ready = [asyncio.Event() for _ in readers]
        heard = asyncio.gather(
            *(_links_heard(live_port, r, live, e) for r, e in zip(readers, ready, strict=True))
        )
        if live:
            await asyncio.gather(*(e.wait() for e in ready))
        for partner in partners:
            await events.enqueue(
                conn, "partner.account_linked", shared, {"partnerId": str(partner)}
            )
        await events.enqueue(conn, "test.end", None, {})

        assert await heard == expected, "live" if live else "replayed"
        await conn.execute("delete from events")
