"""A partner hears the end of its own link to an account, though by the time the event is
read it no longer manages the account: on its live stream, on a stream replaying the
outbox, on the polling feed and on its webhooks. That is how an integration learns to
stop following the account. Of the account it hears nothing else afterwards, and another
partner of the same account never hears the first one's link end."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.events.outbox import START
from tests.conftest import Api, api_key
from tests.fixtures.live import subscribe, until_type, ws_client
from tests.fixtures.partner_links import shared_account, unlink_then_more

FEED = """query($after: String) { events(after: $after, first: 100) {
  ... on EventPage { events { type accountId payload } } } }"""


def _seen(heard: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["type"], e["payload"].get("partnerId")) for e in heard if e["type"] != "test.end"]


async def _stream(port: int, key: str, live: bool, ready: asyncio.Event) -> list[Any]:
    after = None if live else START.encode()
    async with (
        ws_client(port, key) as session,
        contextlib.aclosing(subscribe(session, after=after)) as stream,
    ):
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)  # joined the hub
        ready.set()
        heard = [await asyncio.wait_for(first, 10)]
        if heard[0]["type"] != "test.end":
            heard += await asyncio.wait_for(until_type(stream, "test.end"), 10)
    return heard


async def test_a_partner_hears_its_own_unlink_live_and_replayed_and_nothing_after(
    conn: asyncpg.Connection, api: Api, live_port: int
) -> None:
    ids = await shared_account(conn)
    account, leaving, staying = ids
    keys = [await api_key(conn, Role.PARTNER, p) for p in (leaving, staying)]

    ready = [asyncio.Event(), asyncio.Event()]
    live = asyncio.gather(
        *(_stream(live_port, k, True, r) for k, r in zip(keys, ready, strict=True))
    )
    await asyncio.gather(*(r.wait() for r in ready))
    await unlink_then_more(api, conn, ids)
    heard_live = await live
    replayed = [await _stream(live_port, k, False, asyncio.Event()) for k in keys]

    unlink = ("partner.account_unlinked", str(leaving))
    for heard in (heard_live, replayed):
        assert _seen(heard[0]) == [unlink]
        assert _seen(heard[1]) == [("test.after", None)]
    # The polling feed says the same.
    expected = [[unlink], [("test.after", None)]]
    for key, seen in zip(keys, expected, strict=True):
        page = (await api.data(FEED, {"after": None}, auth=key))["events"]["events"]
        assert _seen(page) == seen
        assert {e["accountId"] for e in page if e["type"] != "test.end"} == {str(account)}
