"""Managing webhook endpoints: who may, what URLs are accepted, the secret shown once and
stored sealed, rotation with both secrets signing, replay from a cursor, a test send, the
delivery log, and an endpoint failing for five days being disabled."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role, issue_frontend_token
from benefitgate.clock import FixedClock
from benefitgate.events import outbox as events
from tests.conftest import JWT_SECRET, Api, MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.webhook_api import CREATE, DELIVERIES, create_endpoint
from tests.fixtures.webhooks import Received, Receiver, eventually

ROTATE = """mutation($id: ID!, $key: String!) { webhookSecretRotate(id: $id, idempotencyKey: $key) {
  __typename ... on WebhookSecretRotated { secret replayed previousSecretExpiresAt }
  ... on Error { code } } }"""
ROTATE_NOW = """mutation($id: ID!, $key: String!) {
  webhookSecretRotate(id: $id, idempotencyKey: $key, expirePreviousNow: true) {
  __typename ... on Error { code } } }"""
REPLAY = """mutation($id: ID!, $after: String!) { webhookReplay(endpointId: $id, after: $after) {
  __typename ... on WebhookEndpointChanged { endpoint { cursor } }
  ... on Error { code message } ... on InvalidInputError { field } } }"""
TEST_SEND = """mutation($id: ID!) { webhookTestSend(endpointId: $id) {
  __typename ... on WebhookTestSent { attempt { webhookId eventType succeeded statusCode } }
  ... on Error { code } } }"""
LIST = """{ webhookEndpoints { __typename ... on WebhookEndpointList { endpoints { id url } }
  ... on Error { code } } }"""
SET_STATUS = """mutation($id: ID!) {{ {op}(id: $id) {{ __typename
  ... on WebhookEndpointChanged {{ endpoint {{ status disabledReason }} }}
  ... on Error {{ code }} }} }}"""
UPDATE = """mutation($id: ID!, $v: Int!, $url: String!, $types: [String!]) {
  webhookEndpointUpdate(id: $id, expectedVersion: $v, url: $url, eventTypes: $types) {
    __typename ... on WebhookEndpointChanged { endpoint { version eventTypes url } }
    ... on Error { code } } }"""
DELETE = """mutation($id: ID!) { webhookEndpointDelete(id: $id) { __typename
  ... on WebhookEndpointDeleted { id } ... on Error { code } } }"""


async def _create(api: Api, auth: str, url: str, **extra: Any) -> dict[str, Any]:
    variables = {"url": url, "types": None, "accounts": None, "key": uuid.uuid4().hex, **extra}
    answer: dict[str, Any] = (await api.data(CREATE, variables, auth=auth))["webhookEndpointCreate"]
    return answer


# Allow-listed URLs but for whitespace or a control character, which `urlsplit` would drop
# (tab, CR, LF) or keep: refused either way, so the URL requested is the one stored.
SPACED = [
    "http://127.0.0.1:18732/s\r\nX-Injected: 1",
    "http://127.0.0.1\t:18732/r",
    "http://127.0.0.1:18732/ space",
    "http://127.0.0.1:18732/lf\n",
    " http://127.0.0.1:18732/lead",
    "http://127.0.0.1:18732/soh\x01",  # NUL is refused earlier, in any text
    "http://127.0.0.1:18732/del\x7f",
    "http://127.0.0.1:18732/c1\x85",
    "http://127.0.0.1:18732/nbsp\u00a0",
    "http://127.0.0.1:18732/ls\u2028",
]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "https only"),
        ("https://10.1.2.3/hook", "a private address"),
        ("https://169.254.169.254/latest/meta-data", "link-local: cloud metadata"),
        ("https://[::1]:8443/hook", "loopback, not allow-listed"),
        ("https://localhost/hook", "loopback by name"),
        ("https://user:pw@example.com/hook", "credentials in the URL"),
        ("ftp://example.com/hook", "not http"),
        ("https:///no-host", "no host"),
        ("https://example.com:99999/hook", "a port out of range"),
        ("https://" + "a" * 2000 + ".com/", "too long"),
        ("https://a..b/", "an empty label (IDNA refuses it)"),
        ("https://" + "a" * 64 + ".com/", "a label too long for IDNA"),
        ("https://\u3002example.com/", "an ideographic full stop"),
        ("https://[::7f00:1]/", "IPv4-compatible loopback"),
        ("https://[64:ff9b::7f00:1]/", "NAT64 loopback"),
        ("https://[2002:7f00:1::]/", "6to4 loopback"),
        ("http://127.0.0.1:0/", "port 0"),
        ("https://224.0.0.1/", "IPv4 multicast (is_global holds of it)"),
        ("https://[ff02::1]/", "IPv6 multicast"),
        ("https://[fec0::1]/", "IPv6 site-local"),
        ("https://[64:ff9b:1::a00:1]/", "NAT64 local use, carrying 10.0.0.1"),
        ("https://[::ffff:0:a00:1]/", "IPv4-translated 10.0.0.1"),
        ("https://[::ffff:a00:1]/", "IPv4-mapped 10.0.0.1"),
        ("https://[2002:a00:1::1]/", "6to4 of 10.0.0.1"),
        ("https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "Teredo, client 10.0.0.1"),
        ("http://@127.0.0.1/", "an empty user"),
        *((url, "whitespace or a control character") for url in SPACED),
    ],
)
async def test_unsafe_urls_are_refused_as_invalid_input(
    conn: asyncpg.Connection, hooks_api: Api, url: str, why: str
) -> None:
    answer = await _create(hooks_api, await api_key(conn), url)
    assert (answer["__typename"], answer["field"]) == ("InvalidInputError", "url"), why


async def test_a_refused_name_does_not_tell_what_it_resolves_to(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    """The service's own DNS answer for a name of its network stays unsaid; an address the
    caller wrote itself is named."""
    key = await api_key(conn)
    by_name = await _create(hooks_api, key, "https://localhost/hook")
    by_address = await _create(hooks_api, key, "https://10.1.2.3/hook")
    assert by_name["message"] == "localhost resolves to an address that is not public"
    assert "127.0.0.1" not in by_name["message"] and "::1" not in by_name["message"]
    assert by_address["message"] == "10.1.2.3 is not a public address"


async def test_only_partners_and_internal_tools_manage_endpoints_each_their_own(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    cat = await factories.catalog(conn)
    partner, other = await factories.partner(conn), await factories.partner(conn, "Other")
    managed = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    foreign = await factories.account(conn, cat["versions"]["basic"], partner_id=other)
    admin, mine = await api_key(conn), await api_key(conn, Role.PARTNER, partner)
    theirs = await api_key(conn, Role.PARTNER, other)
    receiver = Receiver()

    token = issue_frontend_token(
        JWT_SECRET, subject="u", account_id=managed, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    as_frontend = await _create(hooks_api, token, receiver.url())
    own = await create_endpoint(hooks_api, mine, receiver.url(), accounts=[str(managed)])
    unmanaged = await _create(hooks_api, mine, receiver.url(), accounts=[str(foreign)])
    endpoint = own["endpoint"]["id"]
    listed = {
        k: [e["id"] for e in (await hooks_api.data(LIST, auth=k))["webhookEndpoints"]["endpoints"]]
        for k in (mine, theirs, admin)
    }
    stolen = await hooks_api.data(
        SET_STATUS.format(op="webhookEndpointDisable"), {"id": endpoint}, auth=theirs
    )
    log = await hooks_api.data(DELIVERIES, {"id": endpoint, "first": 5}, auth=theirs)

    assert as_frontend == {
        "__typename": "ForbiddenError",
        "code": "FORBIDDEN",
        "message": as_frontend["message"],
    }
    assert own["endpoint"]["partnerId"] == str(partner)
    assert unmanaged["__typename"] == "NotFoundError"  # as an account it cannot see
    assert listed == {mine: [endpoint], theirs: [], admin: [endpoint]}
    assert stolen["webhookEndpointDisable"]["code"] == "NOT_FOUND"
    assert log["webhookDeliveries"]["code"] == "NOT_FOUND"


async def test_the_secret_is_shown_once_stored_sealed_and_never_logged(
    conn: asyncpg.Connection, hooks_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    key, receiver = await api_key(conn), Receiver()
    variables = {"url": receiver.url(), "types": None, "accounts": None, "key": "same-key"}
    with caplog.at_level(logging.DEBUG):
        first = (await hooks_api.data(CREATE, variables, auth=key))["webhookEndpointCreate"]
        again = (await hooks_api.data(CREATE, variables, auth=key))["webhookEndpointCreate"]
    secret = first["secret"]
    stored = await conn.fetchrow("select secret::text as hex from webhook_endpoints")
    dump = await conn.fetchval("select string_agg(t::text, ' ') from webhook_endpoints t")
    keys = await conn.fetchval("select string_agg(t::text, ' ') from idempotency_keys t")

    assert secret.startswith("whsec_") and len(secret) > 30
    assert (again["replayed"], again["secret"]) == (True, None)
    assert again["endpoint"]["id"] == first["endpoint"]["id"]
    assert await conn.fetchval("select count(*) from webhook_endpoints") == 1
    for text in (stored["hex"], dump, keys, caplog.text):
        assert secret not in text and secret.removeprefix("whsec_") not in text


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key, receiver = await api_key(conn), Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        endpoint = created["endpoint"]["id"]
        rotated = (await hooks_api.data(ROTATE, {"id": endpoint, "key": "r1"}, auth=key))[
            "webhookSecretRotate"
        ]
        await events.enqueue(conn, "test.after_rotation", None, {})
        assert await eventually(lambda: len(receiver.received) == 1)

    got = receiver.received[0]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert got.verifies_with(rotated["secret"]) and got.verifies_with(created["secret"])
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    await conn.execute("update webhook_endpoints set previous_secret_expires_at = now()")
    async with receiver.serving():
        await events.enqueue(conn, "test.after_expiry", None, {})
        assert await eventually(lambda: len(receiver.received) == 2)
    late = receiver.received[1]
    assert late.verifies_with(rotated["secret"]) and not late.verifies_with(created["secret"])


async def test_replay_sends_everything_after_a_cursor_again_in_order(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key, receiver = await api_key(conn), Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        ids = [await events.enqueue(conn, "test.n", None, {"n": n}) for n in range(6)]
        assert await eventually(lambda: len(receiver.received) == 6)
        after = receiver.received[1].json["data"]["cursor"]
        replayed = await hooks_api.data(
            REPLAY, {"id": created["endpoint"]["id"], "after": after}, auth=key
        )
        assert await eventually(lambda: len(receiver.received) == 10)
        bad = await hooks_api.data(
            REPLAY, {"id": created["endpoint"]["id"], "after": "not-a-cursor"}, auth=key
        )

    assert replayed["webhookReplay"]["endpoint"]["cursor"] == after
    assert [r.webhook_id for r in receiver.received[6:]] == [str(i) for i in ids[2:]]
    assert bad["webhookReplay"]["field"] == "after"


async def test_a_test_send_reaches_the_receiver_and_is_logged(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key, receiver = await api_key(conn), Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        endpoint = created["endpoint"]["id"]
        sent = (await hooks_api.data(TEST_SEND, {"id": endpoint}, auth=key))["webhookTestSend"]
        log = await hooks_api.data(DELIVERIES, {"id": endpoint, "first": 5}, auth=key)

    assert sent["attempt"]["succeeded"] and sent["attempt"]["eventType"] == "webhook.test"
    assert receiver.received[0].verifies_with(created["secret"])
    assert receiver.received[0].webhook_id == sent["attempt"]["webhookId"]
    assert [a["webhookId"] for a in log["webhookDeliveries"]["attempts"]] == [
        sent["attempt"]["webhookId"]
    ]


async def test_a_send_that_connects_nowhere_does_not_say_why(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    """A port refused and a host with no public address read alike in the delivery log:
    told apart, a caller would map which ports answer on the service's network."""
    key, receiver = await api_key(conn), Receiver()  # never serving: its port refuses
    closed = (await create_endpoint(hooks_api, key, receiver.url()))["endpoint"]["id"]
    private = (await create_endpoint(hooks_api, key, receiver.url("b")))["endpoint"]["id"]
    # As if its name had resolved publicly when registered and privately now.
    await conn.execute(
        "update webhook_endpoints set url = 'https://10.0.0.1:8443/hook' where id = $1",
        uuid.UUID(private),
    )
    send = TEST_SEND.replace("statusCode }", "statusCode error }")
    errors = []
    for endpoint in (closed, private):
        sent = (await hooks_api.data(send, {"id": endpoint}, auth=key))["webhookTestSend"]
        assert (sent["attempt"]["succeeded"], sent["attempt"]["statusCode"]) == (False, None)
        errors.append(sent["attempt"]["error"])
    assert errors == ["could not connect", "could not connect"]


async def test_a_redirect_is_not_followed_but_retried_as_a_failure(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    async def moved(_: Received) -> int:
        return 302

    key, receiver = await api_key(conn), Receiver(answer=moved)
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        await events.enqueue(conn, "test.n", None, {})
        assert await eventually(lambda: len(receiver.received) >= 2)  # retried
        # The second attempt is logged once its answer is in, so the receiver can have it
        # before the log does: wait for the log too (a CI run failed this test once, then
        # passed on its rerun; which assertion failed was not printed).
        for _ in range(750):
            log = await hooks_api.data(
                DELIVERIES, {"id": created["endpoint"]["id"], "first": 1}, auth=key
            )
            if log["webhookDeliveries"]["pageInfo"]["hasNextPage"]:
                break
            await asyncio.sleep(0.02)

    attempt = log["webhookDeliveries"]["attempts"][0]
    assert (attempt["succeeded"], attempt["statusCode"], attempt["error"]) == (
        False,
        302,
        "HTTP 302",
    )
    assert log["webhookDeliveries"]["pageInfo"]["hasNextPage"]


async def test_an_update_to_a_url_with_whitespace_or_a_control_character_is_refused(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    created = await create_endpoint(hooks_api, key, "http://127.0.0.1:18732/ok")
    endpoint = created["endpoint"]["id"]
    for url in SPACED:
        answer = await hooks_api.data(
            UPDATE, {"id": endpoint, "v": 1, "url": url, "types": None}, auth=key
        )
        assert answer["webhookEndpointUpdate"]["code"] == "INVALID_INPUT", url
    stored = await conn.fetchrow("select url, version from webhook_endpoints")
    assert (stored["url"], stored["version"]) == ("http://127.0.0.1:18732/ok", 1)


async def test_update_disable_enable_and_delete(conn: asyncpg.Connection, hooks_api: Api) -> None:
    key, receiver = await api_key(conn), Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        endpoint = created["endpoint"]["id"]
        changed = await hooks_api.data(
            UPDATE,
            {"id": endpoint, "v": 1, "url": receiver.url("b"), "types": ["entitlement.changed"]},
            auth=key,
        )
        stale = await hooks_api.data(
            UPDATE, {"id": endpoint, "v": 1, "url": receiver.url("c"), "types": None}, auth=key
        )
        await events.enqueue(conn, "catalog.published", None, {})
        wanted = await events.enqueue(conn, "entitlement.changed", None, {})
        assert await eventually(lambda: len(receiver.received) == 1)
        off = await hooks_api.data(
            SET_STATUS.format(op="webhookEndpointDisable"), {"id": endpoint}, auth=key
        )
        waiting = await events.enqueue(conn, "entitlement.changed", None, {})
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1  # disabled: the event waits
        on = await hooks_api.data(
            SET_STATUS.format(op="webhookEndpointEnable"), {"id": endpoint}, auth=key
        )
        assert await eventually(lambda: len(receiver.received) == 2)
        deleted = await hooks_api.data(DELETE, {"id": endpoint}, auth=key)

    assert changed["webhookEndpointUpdate"]["endpoint"] == {
        "version": 2,
        "eventTypes": ["entitlement.changed"],
        "url": receiver.url("b"),
    }
    assert stale["webhookEndpointUpdate"]["code"] == "VERSION_CONFLICT"
    assert [r.webhook_id for r in receiver.at("b")] == [str(wanted), str(waiting)]
    assert off["webhookEndpointDisable"]["endpoint"]["status"] == "DISABLED"
    assert on["webhookEndpointEnable"]["endpoint"]["status"] == "ENABLED"
    assert deleted["webhookEndpointDelete"]["id"] == endpoint
    assert await conn.fetchval("select count(*) from webhook_endpoints") == 0


async def test_an_endpoint_failing_for_five_days_is_disabled(
    conn: asyncpg.Connection, make_hooks_api: MakeApi
) -> None:
    async def down(_: Received) -> int:
        return 503

    clock = FixedClock(factories.NOW)
    key, receiver = await api_key(conn), Receiver(answer=down)
    async with receiver.serving(), make_hooks_api(clock=clock) as api:
        created = await create_endpoint(api, key, receiver.url())
        await events.enqueue(conn, "test.n", None, {})
        assert await eventually(lambda: len(receiver.received) >= 1)
        row = await conn.fetchrow("select * from webhook_endpoints")
        assert row["failing_since"] == factories.NOW and row["status"] == "enabled"
        # Retries back off: on this fixed clock, none is due until time moves.
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1
        clock.advance(timedelta(days=4, hours=23))
        assert await eventually(lambda: len(receiver.received) >= 2)
        assert await conn.fetchval("select status from webhook_endpoints") == "enabled"
        clock.advance(timedelta(hours=2))
        assert await eventually(lambda: len(receiver.received) >= 3)
        await asyncio.sleep(0.2)

    row = await conn.fetchrow("select * from webhook_endpoints")
    assert row["status"] == "disabled"
    assert row["disabled_reason"].startswith("failing since 2026-11-15")
    assert created["endpoint"]["id"] == str(row["id"])
    assert (
        await conn.fetchval("select count(*) from events where type = 'webhook.endpoint_disabled'")
        == 1
    )


async def test_accounts_named_by_an_admin_must_exist(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    answer = await _create(
        hooks_api, await api_key(conn), Receiver().url(), accounts=[str(uuid.uuid4())]
    )
    assert answer["__typename"] == "NotFoundError"


async def test_a_replayed_create_of_a_deleted_endpoint_is_not_found(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    variables = {"url": Receiver().url(), "types": None, "accounts": None, "key": "k"}
    created = (await hooks_api.data(CREATE, variables, auth=key))["webhookEndpointCreate"]
    await hooks_api.data(DELETE, {"id": created["endpoint"]["id"]}, auth=key)
    again = (await hooks_api.data(CREATE, variables, auth=key))["webhookEndpointCreate"]
    assert again["__typename"] == "NotFoundError"


async def test_a_second_rotation_keeps_the_promise_of_the_first(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    endpoint = (await create_endpoint(hooks_api, key, Receiver().url()))["endpoint"]["id"]
    first = await hooks_api.data(ROTATE, {"id": endpoint, "key": "r1"}, auth=key)
    second = await hooks_api.data(ROTATE, {"id": endpoint, "key": "r2"}, auth=key)
    forced = await hooks_api.data(ROTATE_NOW, {"id": endpoint, "key": "r3"}, auth=key)
    assert first["webhookSecretRotate"]["__typename"] == "WebhookSecretRotated"
    assert second["webhookSecretRotate"]["__typename"] == "InvalidInputError"
    assert forced["webhookSecretRotate"]["__typename"] == "WebhookSecretRotated"


@pytest.mark.parametrize("after", ["OTIyMzM3MjAzNjg1NDc3NTgwNzo5MjIzMzcyMDM2ODU0Nzc1ODA3"])
async def test_a_replay_past_the_newest_event_is_refused(
    conn: asyncpg.Connection, hooks_api: Api, after: str
) -> None:
    key = await api_key(conn)
    endpoint = (await create_endpoint(hooks_api, key, Receiver().url()))["endpoint"]["id"]
    answer = await hooks_api.data(REPLAY, {"id": endpoint, "after": after}, auth=key)
    assert answer["webhookReplay"]["field"] == "after"


async def test_a_replay_from_a_position_no_event_holds_is_refused(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    """A real transaction with a made-up event id: replaying from it would pass over the
    rest of that transaction's events."""
    key = await api_key(conn)
    endpoint = (await create_endpoint(hooks_api, key, Receiver().url()))["endpoint"]["id"]
    async with conn.transaction():
        first = await events.enqueue(conn, "test.first", None, {})
        await conn.execute("select nextval(pg_get_serial_sequence('events', 'id'))")
        await events.enqueue(conn, "test.second", None, {})
    txid = await conn.fetchval("select txid::text from events where id = $1", first)
    made_up = events.Cursor(int(txid), first + 1).encode()
    answer = await hooks_api.data(REPLAY, {"id": endpoint, "after": made_up}, auth=key)
    assert answer["webhookReplay"] == {
        "__typename": "InvalidInputError", "code": "INVALID_INPUT", "field": "after",
        "message": "after is not a position of this API's events",
    }  # fmt: skip


async def test_every_endpoint_change_is_audited_without_its_secret(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    created = await create_endpoint(hooks_api, key, Receiver().url())
    endpoint = created["endpoint"]["id"]
    await hooks_api.data(ROTATE, {"id": endpoint, "key": "r"}, auth=key)
    await hooks_api.data(SET_STATUS.format(op="webhookEndpointDisable"), {"id": endpoint}, auth=key)
    await hooks_api.data(DELETE, {"id": endpoint}, auth=key)
    rows = await conn.fetch(
        "select action, after::text as after from audit_log where target_kind = 'webhook_endpoint'"
        " order by id"
    )

    assert [r["action"] for r in rows] == [
        "webhook_endpoint.created",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.disabled",
        "webhook_endpoint.deleted",
    ]
    assert all("whsec_" not in (r["after"] or "") for r in rows)


async def test_internal_global_events_reach_internal_readers_only(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    await events.enqueue(conn, "webhook.endpoint_disabled", None, {"url": "https://x/secret"})
    await events.enqueue(conn, "partner.created", None, {"name": "Other partner"})
    await events.enqueue(conn, "catalog.benefit_created", None, {})
    feed = "{ events { ... on EventPage { events { type } } } }"
    token = issue_frontend_token(
        JWT_SECRET, subject="u", account_id=account, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    seen = {}
    for name, auth in (
        ("admin", await api_key(conn)),
        ("partner", await api_key(conn, Role.PARTNER, partner)),
        ("frontend", token),
    ):
        page = (await hooks_api.data(feed, auth=auth))["events"]["events"]
        seen[name] = [e["type"] for e in page]

    assert seen["admin"] == [
        "webhook.endpoint_disabled", "partner.created", "catalog.benefit_created"
    ]  # fmt: skip
    assert seen["partner"] == seen["frontend"] == ["catalog.benefit_created"]


async def test_a_replay_takes_the_end_cursor_of_any_page_of_the_feed(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    endpoint = (await create_endpoint(hooks_api, key, Receiver().url()))["endpoint"]["id"]
    await events.enqueue(conn, "test.tick", None, {})
    feed = "query { events { ... on EventPage { endCursor hasMore } } }"
    page = (await hooks_api.data(feed, {}, auth=key))["events"]
    assert page["hasMore"] is False  # so it ends where the read settled, past the last event
    answer = await hooks_api.data(REPLAY, {"id": endpoint, "after": page["endCursor"]}, auth=key)
    # Was "after is past the newest event": the tail of the outbox was the limit.
    assert answer["webhookReplay"]["endpoint"]["cursor"] == page["endCursor"]
