"""Webhooks reach a real receiver: every event once, in cursor order, signed to the
Standard Webhooks specification (verified with the `standardwebhooks` library), and
nothing is lost while the receiver fails, is down, or times out."""

from __future__ import annotations

import asyncio
import json
import random

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.events import outbox as events
from benefitgate.events.outbox import Cursor
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.partner_links import shared_account, unlink_then_more
from tests.fixtures.webhook_api import DELIVERIES, create_endpoint
from tests.fixtures.webhooks import Received, Receiver, eventually


async def _enqueue(conn: asyncpg.Connection, n: int, type: str = "test.n") -> list[int]:
    return [await events.enqueue(conn, type, None, {"n": i}) for i in range(n)]


REPLAY = """mutation($id: ID!, $after: String!) { webhookReplay(endpointId: $id, after: $after) {
  ... on WebhookEndpointChanged { endpoint { version } } ... on Error { code } } }"""
MOVE = """mutation($id: ID!, $v: Int!, $url: String!) {
  webhookEndpointUpdate(id: $id, expectedVersion: $v, url: $url) {
  __typename ... on Error { code } } }"""


def _first_arrivals(received: list[Received]) -> list[str]:
    seen: dict[str, None] = {}
    for r in received:
        seen.setdefault(r.webhook_id)
    return list(seen)


async def test_each_event_arrives_once_signed_and_in_order(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    receiver = Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        ids = await _enqueue(conn, 30)
        assert await eventually(lambda: len(receiver.received) >= 30)
        await asyncio.sleep(0.2)  # nothing more arrives

    assert [r.webhook_id for r in receiver.received] == [str(i) for i in ids]
    assert all(r.verifies_with(created["secret"]) for r in receiver.received)
    assert created["secret"].startswith("whsec_")
    body = receiver.received[3].json
    assert body["type"] == "test.n" and body["data"]["payload"] == {"n": 3}
    assert body["data"]["id"] == str(ids[3])
    cursors = [Cursor.decode(r.json["data"]["cursor"]) for r in receiver.received]
    assert cursors == sorted(cursors)


async def test_a_receiver_down_for_a_while_gets_everything_in_order_when_back(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    receiver = Receiver()
    async with receiver.serving():
        await create_endpoint(hooks_api, key, receiver.url())
        first = await _enqueue(conn, 5)
        assert await eventually(lambda: len(receiver.received) == 5)
    later = await _enqueue(conn, 20)  # the receiver is down: connections are refused
    await asyncio.sleep(1.0)
    async with receiver.serving():
        assert await eventually(lambda: len(receiver.received) >= 25)
        await asyncio.sleep(0.2)

    assert _first_arrivals(receiver.received) == [str(i) for i in first + later]
    assert len(receiver.received) == 25  # refused connections never reached it


async def test_random_errors_and_timeouts_are_retried_until_everything_arrives(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    rng = random.Random(7)

    async def flaky(_: Received) -> int:
        roll = rng.random()
        if roll < 0.15:
            await asyncio.sleep(1.5)  # past the 1 s timeout: the sender gives up, retries
            return 204
        return 500 if roll < 0.45 else 200

    key = await api_key(conn)
    receiver = Receiver(answer=flaky)
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        ids = await _enqueue(conn, 40)
        expected = [str(i) for i in ids]
        assert await eventually(lambda: _first_arrivals(receiver.received) == expected, 60)
        endpoint = created["endpoint"]["id"]
        failed = await hooks_api.data(
            DELIVERIES, {"id": endpoint, "status": "FAILED", "first": 100}, auth=key
        )

    attempts = failed["webhookDeliveries"]["attempts"]
    assert attempts, "some attempts failed and were retried"
    assert {a["statusCode"] for a in attempts} <= {500, None}
    assert any(a["error"] == "timed out" for a in attempts)
    assert all(a["latencyMs"] >= 0 for a in attempts)
    # At least once: a timed-out send may have reached the receiver, and is sent again
    # with the same webhook-id, which the receiver uses to drop the copy.
    assert set(expected) == {r.webhook_id for r in receiver.received}


async def test_410_disables_the_endpoint_and_says_so_with_an_event(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    async def gone(_: Received) -> int:
        return 410

    key = await api_key(conn)
    receiver = Receiver(answer=gone)
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        await _enqueue(conn, 3)
        assert await eventually(lambda: len(receiver.received) >= 1)
        await asyncio.sleep(0.5)

    endpoint_id = created["endpoint"]["id"]
    row = await conn.fetchrow("select * from webhook_endpoints where id = $1", endpoint_id)
    assert (row["status"], row["disabled_reason"]) == ("disabled", "the receiver answered 410 Gone")
    assert len(receiver.received) == 1  # nothing more after the 410
    disabled = await conn.fetch("select * from events where type = 'webhook.endpoint_disabled'")
    assert [e["payload"]["endpointId"] for e in disabled] == [endpoint_id]


async def test_a_partner_endpoint_hears_of_its_accounts_only_while_it_manages_them(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    mine = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    theirs = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn, Role.PARTNER, partner)
    receiver = Receiver()
    async with receiver.serving():
        await create_endpoint(hooks_api, key, receiver.url())
        wanted = await events.enqueue(conn, "test.mine", mine, {})
        await events.enqueue(conn, "test.theirs", theirs, {})
        await events.enqueue(conn, "test.global", None, {})
        assert await eventually(lambda: len(receiver.received) >= 1)
        await conn.execute("delete from partner_accounts where account_id = $1", mine)
        await events.enqueue(conn, "test.unlinked", mine, {})
        await asyncio.sleep(0.5)

    # Who manages an account is read as each event is sent: once unlinked, nothing flows.
    assert [r.webhook_id for r in receiver.received] == [str(wanted)]


async def test_a_partner_endpoint_hears_its_own_link_to_a_shared_account_only(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    cat = await factories.catalog(conn)
    partner, other = await factories.partner(conn, "One"), await factories.partner(conn, "Two")
    shared = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    await conn.execute("insert into partner_accounts values ($1, $2)", other, shared)
    key = await api_key(conn, Role.PARTNER, partner)
    receiver = Receiver()
    async with receiver.serving():
        await create_endpoint(hooks_api, key, receiver.url())
        linked = "partner.account_linked"
        await events.enqueue(conn, linked, shared, {"partnerId": str(other)})
        own = await events.enqueue(conn, linked, shared, {"partnerId": str(partner)})
        last = await events.enqueue(conn, "test.after", shared, {})
        assert await eventually(lambda: len(receiver.received) >= 2)
        await asyncio.sleep(0.3)

    # The other partner's link is passed over: its id is not this partner's to know.
    assert [r.webhook_id for r in receiver.received] == [str(own), str(last)]


async def test_a_partner_endpoint_hears_its_own_unlink_and_nothing_after(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    ids = await shared_account(conn)
    account, leaving, _ = ids
    key = await api_key(conn, Role.PARTNER, leaving)
    receiver = Receiver()
    async with receiver.serving():
        await create_endpoint(hooks_api, key, receiver.url())
        await unlink_then_more(hooks_api, conn, ids)
        assert await eventually(lambda: len(receiver.received) >= 1)
        await asyncio.sleep(0.5)  # anything more would have come by now

    bodies = [json.loads(r.body) for r in receiver.received]
    assert [b["type"] for b in bodies] == ["partner.account_unlinked"]
    assert bodies[0]["data"]["payload"]["partnerId"] == str(leaving)
    assert {b["data"]["accountId"] for b in bodies} == {str(account)}


async def test_an_event_a_partner_may_not_see_is_passed_over_without_spinning(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    cat = await factories.catalog(conn)
    partner, other = await factories.partner(conn), await factories.partner(conn, "Other")
    theirs = await factories.account(conn, cat["versions"]["basic"], partner_id=other)
    key = await api_key(conn, Role.PARTNER, partner)
    receiver = Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        hidden = await events.enqueue(conn, "test.theirs", theirs, {})
        cursor = await conn.fetchval("select txid from events where id = $1", hidden)

        async def endpoint_cursor() -> tuple[int, int]:
            row = await conn.fetchrow(
                "select cursor_txid, cursor_id from webhook_endpoints where id = $1",
                created["endpoint"]["id"],
            )
            return row["cursor_txid"], row["cursor_id"]

        for _ in range(100):
            if await endpoint_cursor() == (cursor, hidden):
                break
            await asyncio.sleep(0.05)
        commits = await conn.fetchval(
            "select xact_commit from pg_stat_database where datname = current_database()"
        )
        await asyncio.sleep(1.0)
        idle = await conn.fetchval(
            "select xact_commit from pg_stat_database where datname = current_database()"
        )

    assert await endpoint_cursor() == (cursor, hidden)  # moved past it, sending nothing
    assert receiver.received == []
    assert idle - commits < 50  # a spinning dispatcher committed thousands a second


async def test_a_change_while_a_backlog_is_sent_applies_after_the_message_in_flight(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    async def slow(_: Received) -> int:
        await asyncio.sleep(0.1)
        return 204

    key, receiver = await api_key(conn), Receiver(answer=slow)
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url("old"))
        endpoint = created["endpoint"]["id"]
        ids = await _enqueue(conn, 30)
        assert await eventually(lambda: len(receiver.received) >= 10)
        replay_from = receiver.received[1].json["data"]["cursor"]
        moved = await hooks_api.data(
            MOVE, {"id": endpoint, "v": 1, "url": receiver.url("new")}, auth=key
        )
        at_move = len(receiver.at("old"))
        replayed = await hooks_api.data(REPLAY, {"id": endpoint, "after": replay_from}, auth=key)
        expected = [str(i) for i in ids[2:]]
        assert await eventually(
            lambda: [r.webhook_id for r in receiver.at("new")][-28:] == expected, 30
        )

    assert moved["webhookEndpointUpdate"]["__typename"] == "WebhookEndpointChanged"
    assert len(receiver.at("old")) <= at_move + 1  # at most the message in flight
    assert replayed["webhookReplay"]["endpoint"]["version"] == 3
    # The replay held: everything after its cursor went again, in order, to the new URL
    # (after whatever of the backlog the new URL got before the replay).
    assert [r.webhook_id for r in receiver.at("new")][-28:] == expected
