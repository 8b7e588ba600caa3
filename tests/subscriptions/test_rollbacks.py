"""Rolling back a subscription's change restores every field its audit entry recorded
(the version moves on), whichever change it was: seats were recorded but not written
back, so a rollback of `seatsSetPurchased` answered success and changed nothing. Rolling
back a cancellation now reopens the subscription."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.subscriptions import repository
from benefitgate.subscriptions.service import snapshot
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback

ANSWER = "__typename ... on Error { code message }"
CHANGED = f"{ANSWER} ... on SubscriptionChanged {{ auditEntryId }}"
# Each change of an active basic subscription at version 1, and the result type naming
# its audit entry.
CHANGES = {
    "upgrade": f"""subscriptionChangeTier(accountId: $id, tier: "pro", expectedVersion: 1,
        idempotencyKey: $key) {{ {CHANGED} }}""",
    "term": f"""subscriptionChangeTerm(accountId: $id, term: ANNUAL, expectedVersion: 1,
        idempotencyKey: $key) {{ {CHANGED} }}""",
    "trial": f"""subscriptionStartTrial(accountId: $id, tier: "pro", days: 14,
        expectedVersion: 1, idempotencyKey: $key) {{ {CHANGED} }}""",
    "cancel at the period's end": f"""subscriptionCancel(accountId: $id, expectedVersion: 1,
        atPeriodEnd: true, idempotencyKey: $key) {{ {CHANGED} }}""",
    "cancel now": f"""subscriptionCancel(accountId: $id, expectedVersion: 1,
        atPeriodEnd: false, idempotencyKey: $key) {{ {CHANGED} }}""",
    "past due": f"""subscriptionSetStatus(accountId: $id, status: PAST_DUE, expectedVersion: 1,
        idempotencyKey: $key) {{ {CHANGED} }}""",
    "seats": f"""seatsSetPurchased(accountId: $id, purchased: 7, expectedVersion: 1,
        idempotencyKey: $key) {{ {ANSWER} ... on SeatsPurchased {{ auditEntryId }} }}""",
}
CHECK = """query($id: ID!) { entitlementCheck(accountId: $id, feature: "b0") {
  ... on EntitlementCheck { allowed reason } } }"""


async def _change(api: Api, key: str, account: UUID, field: str) -> Any:
    document = f"mutation($id: ID!, $key: String!) {{ {field} }}"
    variables = {"id": str(account), "key": uuid.uuid4().hex}
    return next(iter((await api.data(document, variables, auth=key)).values()))


async def _stored(conn: asyncpg.Connection, account: UUID) -> dict[str, Any]:
    async with conn.transaction():
        sub = await repository.lock(conn, account)
    assert sub is not None
    return snapshot(sub, account)


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_rollback_restores_every_field_the_entry_recorded(
    conn: asyncpg.Connection, api: Api, change: str
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    original = await _stored(conn, account)
    made = await _change(api, key, account, CHANGES[change])
    changed = await _stored(conn, account)

    undone = await rollback(api, key, made["auditEntryId"], uuid.uuid4().hex)

    assert undone["__typename"] == "RolledBack", undone
    assert changed != {**original, "version": 2}  # the change changed something
    restored = {**original, "version": 3}  # every field back; the version moves on
    assert await _stored(conn, account) == restored
    assert undone["entry"]["after"] == restored


async def test_rolling_back_a_cancellation_now_reopens_the_subscription(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    canceled = await _change(api, key, account, CHANGES["cancel now"])
    suspended = await api.data(CHECK, {"id": str(account)}, auth=key)

    await rollback(api, key, canceled["auditEntryId"], "reopen")
    reopened = await api.data(CHECK, {"id": str(account)}, auth=key)

    assert suspended["entitlementCheck"] == {"allowed": False, "reason": "SUSPENDED"}
    assert reopened["entitlementCheck"]["allowed"] is True
    assert (await _stored(conn, account))["status"] == "active"
