"""Entitlement checks answer from snapshots that follow every committed change: at once on
the replica that made it, and on another as soon as its listener reads the change's event."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import asyncpg

from benefitgate.entitlements.snapshots import EntitlementSnapshots
from benefitgate.events import outbox as events
from benefitgate.suggestions import service as suggestions
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import entitlements_api, factories
from tests.metering.test_consume import check


async def test_the_replica_that_grants_answers_the_next_check_from_after_the_grant(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    account, key = await entitlements_api.setup(conn)
    auth = frontend_token(account)
    async with make_api() as api:
        assert (await check(api, auth, account, feature="b1"))["reason"] == "NOT_IN_TIER"
        granted = await api.data(
            entitlements_api.CREATE,
            entitlements_api.create_vars(account, benefit="b1"),
            auth=key,
        )
        assert granted["grantCreate"]["__typename"] == "GrantChanged"
        # No wait: the grant's own replica dropped the snapshot before answering.
        assert (await check(api, auth, account, feature="b1"))["allowed"] is True


async def test_another_replica_follows_a_grant_and_a_revocation_through_the_outbox(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    account, key = await entitlements_api.setup(conn)
    auth = frontend_token(account)
    async with make_api() as writer, make_api() as reader:
        assert (await check(reader, auth, account, feature="b1"))["allowed"] is False
        granted = await writer.data(
            entitlements_api.CREATE,
            entitlements_api.create_vars(account, benefit="b1"),
            auth=key,
        )
        assert await _answers(reader, auth, account, allowed=True)
        grant = granted["grantCreate"]["grant"]
        revoke = """mutation($g: ID!, $v: Int!) { grantRevoke(grantId: $g, expectedVersion: $v,
                    idempotencyKey: "revoke") { __typename } }"""
        await writer.data(revoke, {"g": grant["id"], "v": grant["version"]}, auth=key)
        assert await _answers(reader, auth, account, allowed=False)


async def test_a_suspension_reaches_a_warm_snapshot_of_another_replica(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    auth, key = frontend_token(account), await api_key(conn)
    async with make_api() as writer, make_api() as reader:
        assert (await check(reader, auth, account, metric="m0"))["allowed"] is True
        status = """mutation($id: ID!) { subscriptionSetStatus(accountId: $id, status: PAST_DUE,
                    expectedVersion: 1, idempotencyKey: "dunning") { __typename } }"""
        changed = await writer.data(status, {"id": str(account)}, auth=key)
        assert changed["subscriptionSetStatus"]["__typename"] == "SubscriptionChanged"
        assert await _answers(reader, auth, account, allowed=False, metric="m0")


async def _answers(api: Api, auth: str, account: UUID, *, allowed: bool, **kw: str) -> bool:
    """Whether the replica's check comes to answer `allowed` within thirty seconds (its
    listener reads a committed event within milliseconds, unless an older transaction
    anywhere on the server holds it back for longer)."""
    what = kw or {"feature": "b1"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (await check(api, auth, account, **what))["allowed"] is allowed:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_suggestion_events_leave_the_entitlement_snapshots_alone(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    """A denied check is upgrade evidence: the suggestion it leads to must not make the
    account's next check reload its snapshot."""
    cat = await factories.catalog(conn)
    suggested, changed = [await factories.account(conn, cat["versions"]["basic"]) for _ in "ab"]
    assert api.app is not None
    snapshots = api.app.state.benefitgate.shared.get(EntitlementSnapshots)
    for account in (suggested, changed):
        assert (await check(api, frontend_token(account), account, feature="b0"))["allowed"]
    assert len(snapshots) == 2
    async with pool.acquire() as writer, writer.transaction():
        for kind in (suggestions.CREATED, suggestions.DISMISSED):
            await events.enqueue(writer, kind, suggested, {})
        last = await events.enqueue(writer, "entitlement.changed", changed, {})  # after them
    listener = api.app.state.benefitgate.listener
    for _ in range(400):  # until the listener has handed every event over
        if listener.cursor is not None and listener.cursor.id >= last:
            break
        await asyncio.sleep(0.025)
    assert listener.cursor is not None and listener.cursor.id >= last
    assert len(snapshots) == 1  # the changed account's dropped; the suggestions dropped nothing
