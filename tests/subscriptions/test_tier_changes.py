"""Tier changes end to end: prorated upgrades now, scheduled downgrades, cancellation,
versions, audit and rollback."""

from __future__ import annotations

import asyncpg

from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.subscriptions_api import RESULT, change

PREVIEW = """
query Preview($id: ID!, $tier: String!) {
  tierChangePreview(accountId: $id, tier: $tier) {
    __typename
    ... on TierChangePreview { tier { key } upgrade effectiveAt amountDue { amountCents }
                               newPrice { amountCents currency } }
    ... on InvalidInputError { field }
    ... on Error { code }
  }
}
"""
CANCEL = f"""
mutation Cancel($id: ID!, $version: Int!, $key: String!) {{
  subscriptionCancelScheduledChange(accountId: $id, expectedVersion: $version,
                                    idempotencyKey: $key) {{ {RESULT} }}
}}
"""
VIEW = """query View($id: ID!) { account(id: $id) { ... on Account {
  tier { key } subscription { tier { key } scheduledTier { key } scheduledChangeAt version }
} } }"""
PERIOD_END = "2026-12-05T12:00:00+00:00"  # the factory's period: NOW - 10 days to NOW + 20


async def test_an_upgrade_takes_effect_now_prorated_as_previewed(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    token = frontend_token(account_id)
    preview = await api.data(PREVIEW, {"id": str(account_id), "tier": "pro"}, auth=token)
    # 4,000 cents a month more, for the 20 days of 30 left: 2,666.67 -> 2,667
    assert preview["tierChangePreview"] == {
        "__typename": "TierChangePreview",
        "tier": {"key": "pro"},
        "upgrade": True,
        "effectiveAt": "2026-11-15T12:00:00+00:00",
        "amountDue": {"amountCents": 2667},
        "newPrice": {"amountCents": 5000, "currency": "USD"},
    }
    upgraded = await change(api, key, account_id, "pro", 1, "up")
    assert upgraded["subscription"] == {
        "tier": {"key": "pro"},
        "scheduledTier": None,
        "scheduledChangeAt": None,
        "version": 2,
    }
    assert upgraded["change"]["amountDue"] == {"amountCents": 2667}
    view = (await api.data(VIEW, {"id": str(account_id)}, auth=token))["account"]
    assert view["tier"] == {"key": "pro"} and view["subscription"]["version"] == 2
    entry = await conn.fetchrow("select action, before, after from audit_log")
    assert entry["action"] == "subscription.upgraded"
    assert (entry["before"]["version"], entry["after"]["version"]) == (1, 2)
    event = await conn.fetchrow("select type, payload from events")
    assert event["type"] == "subscription.changed"
    assert event["payload"]["change"]["amountDueCents"] == 2667
    replay = await change(api, key, account_id, "pro", 1, "up")
    assert replay["replayed"] is True and replay["subscription"]["version"] == 2
    stale = await change(api, key, account_id, "basic", 1, "down")
    assert (stale["code"], stale["currentVersion"]) == ("VERSION_CONFLICT", 2)
    same = await change(api, key, account_id, "pro", 2, "same")
    assert (same["code"], same["field"]) == ("INVALID_INPUT", "tier")
    unknown = await change(api, key, account_id, "gold", 2, "gold")
    assert unknown["field"] == "tier"


async def test_a_downgrade_is_scheduled_for_the_period_end_and_can_be_cancelled(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    key = await api_key(conn)
    scheduled = await change(api, key, account_id, "basic", 1, "down")
    assert scheduled["subscription"] == {
        "tier": {"key": "pro"},
        "scheduledTier": {"key": "basic"},
        "scheduledChangeAt": PERIOD_END,
        "version": 2,
    }
    assert scheduled["change"]["upgrade"] is False
    assert scheduled["change"]["amountDue"] == {"amountCents": 0}
    view = (await api.data(VIEW, {"id": str(account_id)}, auth=key))["account"]
    assert view["tier"] == {"key": "pro"}
    assert view["subscription"]["scheduledTier"] == {"key": "basic"}

    cancel = {"id": str(account_id), "version": 2, "key": "cancel"}
    cancelled = (await api.data(CANCEL, cancel, auth=key))["subscriptionCancelScheduledChange"]
    assert cancelled["subscription"]["scheduledTier"] is None
    assert cancelled["change"] is None
    nothing = {**cancel, "version": 3, "key": "cancel-again"}
    again = (await api.data(CANCEL, nothing, auth=key))["subscriptionCancelScheduledChange"]
    assert (again["code"], again["field"]) == ("INVALID_INPUT", "accountId")

    undone = await rollback(api, key, cancelled["auditEntryId"], "undo-cancel")
    assert undone["__typename"] == "RolledBack"
    restored = await conn.fetchrow(
        "select scheduled_tier_version_id, scheduled_change_at, version from subscriptions"
    )
    assert restored["scheduled_tier_version_id"] == cat["versions"]["basic"]
    assert restored["scheduled_change_at"].isoformat() == PERIOD_END
    assert restored["version"] == 4
