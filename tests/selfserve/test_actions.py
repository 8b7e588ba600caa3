"""Self-serve actions end to end over HTTP: each previewed then taken by a frontend when
its switch is on (audited with the token's subject, an event, idempotent), and FORBIDDEN
when it is off, to every other caller, and for what only internal tools may do."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.selfserve_api import ACTIONS, ALL, Case, act, preview, state
from tests.fixtures.subscriptions_api import RESULT, change

NOW = "2026-11-15T12:00:00+00:00"
PERIOD_END = "2026-12-05T12:00:00+00:00"
CANCEL = f"""mutation($id: ID!, $v: Int!, $key: String!) {{
  subscriptionCancel(accountId: $id, expectedVersion: $v, idempotencyKey: $key) {{ {RESULT} }} }}"""


def _period(start: str, end: str, tier: str, term: str, cents: int) -> dict[str, Any]:
    price = {"amountCents": cents, "currency": "USD"}
    return {"startsAt": start, "endsAt": end, "tier": {"key": tier}, "term": term, "price": price}


NEXT_MONTH = ("2026-12-05T12:00:00+00:00", "2027-01-05T12:00:00+00:00")
# Per action: the audit action, what the subscription shows after it (beyond the
# account's starting state), when it takes effect, the price now, and the next period.
EXPECTED: dict[str, tuple[str, dict[str, Any], str, int, dict[str, Any] | None]] = {
    "START_TRIAL": (
        "subscription.trial_started",
        {"tier": {"key": "pro"}, "status": "TRIALING", "trialEndsAt": "2026-11-29T12:00:00+00:00",
         "trialFallbackTier": {"key": "basic"}},
        NOW, 1000, _period(*NEXT_MONTH, "basic", "MONTHLY", 1000),
    ),
    "SCHEDULE_DOWNGRADE": (
        "subscription.downgrade_scheduled",
        {"scheduledTier": {"key": "basic"}, "scheduledChangeAt": PERIOD_END},
        PERIOD_END, 5000, _period(*NEXT_MONTH, "basic", "MONTHLY", 1000),
    ),
    "SCHEDULE_TERM_CHANGE": (
        "subscription.term_scheduled",
        {"scheduledTerm": "ANNUAL", "scheduledChangeAt": PERIOD_END},
        PERIOD_END, 1000,
        _period(PERIOD_END, "2027-12-05T12:00:00+00:00", "basic", "ANNUAL", 10000),
    ),
    "CANCEL_SCHEDULED_CHANGE": (
        "subscription.scheduled_change_canceled", {},
        NOW, 5000, _period(*NEXT_MONTH, "pro", "MONTHLY", 5000),
    ),
    "CANCEL_AT_PERIOD_END": (
        "subscription.cancel_scheduled", {"cancelAtPeriodEnd": True}, PERIOD_END, 1000, None,
    ),
    "UNDO_CANCEL": (
        "subscription.reactivated", {}, NOW, 1000, _period(*NEXT_MONTH, "basic", "MONTHLY", 1000),
    ),
}  # fmt: skip


async def _ready(conn: asyncpg.Connection, api: Api, case: Case) -> tuple[UUID, int]:
    """An account on the case's tier, with what an operator must do first done: the
    account and the subscription's version."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"][case.tier])
    if case.setup is None:
        return account_id, 1
    key = await api_key(conn)
    if case.setup == "downgrade":
        done = await change(api, key, account_id, "basic", 1, "setup")
    else:
        variables = {"id": str(account_id), "v": 1, "key": "setup"}
        done = (await api.data(CANCEL, variables, auth=key))["subscriptionCancel"]
    assert done["__typename"] == "SubscriptionChanged", done
    return account_id, 2


def _starting(tier: str, version: int) -> dict[str, Any]:
    return {
        "tier": {"key": tier}, "status": "ACTIVE", "term": "MONTHLY", "scheduledTier": None,
        "scheduledTerm": None, "scheduledChangeAt": None, "trialEndsAt": None,
        "trialFallbackTier": None, "cancelAtPeriodEnd": False, "version": version,
    }  # fmt: skip


@pytest.mark.parametrize("case", ACTIONS, ids=[c.action for c in ACTIONS])
async def test_a_frontend_previews_then_takes_each_action_its_switch_turns_on(
    conn: asyncpg.Connection, make_api: MakeApi, case: Case
) -> None:
    audit_action, changed, effective, current, next_period = EXPECTED[case.action]
    async with make_api(self_serve=frozenset({case.switch})) as api:
        account_id, version = await _ready(conn, api, case)
        token = frontend_token(account_id)
        seen = await preview(api, token, case, account_id)
        wanted = {**_starting(case.tier, version + 1), **changed}
        assert seen == {
            "__typename": "SelfServePreview",
            "action": case.action,
            "effectiveAt": effective,
            "subscription": wanted,
            "currentPrice": {"amountCents": current, "currency": "USD"},
            "nextPeriod": next_period,
        }
        assert await state(api, token, account_id) == _starting(case.tier, version) | (
            {} if case.setup is None else _setup_state(case)
        )

        done = await act(api, token, case, account_id, version, "k1")
        assert (done["__typename"], done["replayed"]) == ("SubscriptionChanged", False)
        assert done["subscription"] == wanted  # the preview said what happened
        assert await state(api, token, account_id) == wanted
        entry_id = int(done["auditEntryId"])
        entry = await conn.fetchrow("select actor, action, reason from audit_log where id = $1",
                                    entry_id)  # fmt: skip
        assert dict(entry) == {"actor": "user-1", "action": audit_action, "reason": "self-serve"}
        event = await conn.fetchrow(
            "select type, account_id, payload from events where payload->>'auditEntryId' = $1",
            str(entry_id),
        )
        assert (event["type"], event["account_id"]) == ("subscription.changed", account_id)
        assert event["payload"]["action"] == audit_action

        entries = await conn.fetchval("select count(*) from audit_log")
        replay = await act(api, token, case, account_id, version, "k1")
        assert (replay["replayed"], replay["auditEntryId"]) == (True, done["auditEntryId"])
        assert replay["subscription"] == wanted
        reused = await act(api, token, case, account_id, version + 1, "k1")
        assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert await conn.fetchval("select count(*) from audit_log") == entries


def _setup_state(case: Case) -> dict[str, Any]:
    if case.setup == "downgrade":
        return {"scheduledTier": {"key": "basic"}, "scheduledChangeAt": PERIOD_END}
    return {"cancelAtPeriodEnd": True}


@pytest.mark.parametrize("policy", ["nothing", "all but its own"])
@pytest.mark.parametrize("case", ACTIONS, ids=[c.action for c in ACTIONS])
async def test_each_action_is_forbidden_while_its_switch_is_off(
    conn: asyncpg.Connection, make_api: MakeApi, case: Case, policy: str
) -> None:
    switches = frozenset() if policy == "nothing" else ALL - {case.switch}
    async with make_api(self_serve=switches) as api:
        account_id, version = await _ready(conn, api, case)
        token = frontend_token(account_id)
        before = await state(api, token, account_id)
        events = await conn.fetchval("select count(*) from events")
        refused = await act(api, token, case, account_id, version, "k1")
        assert (refused["__typename"], refused["code"]) == ("ForbiddenError", "FORBIDDEN")
        assert repr(case.switch) in refused["message"]
        seen = await preview(api, token, case, account_id)
        assert (seen["__typename"], seen["code"]) == ("ForbiddenError", "FORBIDDEN")
        assert await state(api, token, account_id) == before
        assert await conn.fetchval("select count(*) from audit_log where actor = 'user-1'") == 0
        assert await conn.fetchval("select count(*) from events") == events
        assert await conn.fetchval("select count(*) from idempotency_keys") == (
            0 if case.setup is None else 1
        )


async def test_during_a_trial_the_preview_prices_the_tier_paid_for_not_the_trials(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    trial, cancel = ACTIONS[0], next(c for c in ACTIONS if c.action == "CANCEL_AT_PERIOD_END")
    async with make_api(self_serve=ALL) as api:
        account_id, _ = await _ready(conn, api, trial)
        token = frontend_token(account_id)
        started = await act(api, token, trial, account_id, 1, "trial")
        assert started["subscription"]["status"] == "TRIALING"
        seen = await preview(api, token, cancel, account_id)
    assert seen["subscription"]["tier"] == {"key": "pro"}  # the trial runs to its end
    assert seen["currentPrice"] == {"amountCents": 1000, "currency": "USD"}  # basic's
    assert seen["nextPeriod"] is None
