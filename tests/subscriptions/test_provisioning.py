"""A subscription's life as a billing system drives it: created (with a trial; never
starting later than now), canceled
at the period's end and ended by the scheduler once, reactivated before then, canceled
now, and moved between active and past due; a cancellation racing a tier change."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.renewals import reminders
from benefitgate.subscriptions import due
from tests.conftest import Api, api_key, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW

RESULT = """__typename
  ... on SubscriptionChanged { subscription { status cancelAtPeriodEnd version tier { key } } }
  ... on Error { code message }"""
CREATE = f"""mutation($id: ID!, $tier: String!, $term: Term!, $seats: Int!, $trial: Int!,
  $key: String!) {{ subscriptionCreate(accountId: $id, tier: $tier, term: $term, seats: $seats,
  trialDays: $trial, idempotencyKey: $key) {{ {RESULT} ... on AlreadyExistsError {{ existingId }}
  ... on InvalidInputError {{ field }} }} }}"""
CANCEL = f"""mutation($id: ID!, $v: Int!, $end: Boolean!, $key: String!) {{
  subscriptionCancel(accountId: $id, expectedVersion: $v, atPeriodEnd: $end,
                     idempotencyKey: $key) {{ {RESULT} }} }}"""
REACTIVATE = f"""mutation($id: ID!, $v: Int!, $key: String!) {{
  subscriptionReactivate(accountId: $id, expectedVersion: $v, idempotencyKey: $key) {{
  {RESULT} ... on InvalidInputError {{ field }} }} }}"""
STATUS = f"""mutation($id: ID!, $s: DunningStatus!, $v: Int!, $key: String!) {{
  subscriptionSetStatus(accountId: $id, status: $s, expectedVersion: $v, idempotencyKey: $key) {{
  {RESULT} ... on InvalidInputError {{ field }} }} }}"""
TIER = f"""mutation($id: ID!, $tier: String!, $v: Int!, $key: String!) {{
  subscriptionChangeTier(accountId: $id, tier: $tier, expectedVersion: $v,
                         idempotencyKey: $key) {{ {RESULT} }} }}"""
STARTING = f"""mutation($id: ID!, $at: DateTime!, $trial: Int!, $key: String!) {{
  subscriptionCreate(accountId: $id, tier: "basic", term: MONTHLY, seats: 2, startsAt: $at,
  trialDays: $trial, idempotencyKey: $key) {{ {RESULT} ... on InvalidInputError {{ field }} }}
  }}"""
SUB = """query($id: ID!) { account(id: $id) { ... on Account { subscription {
  status cancelAtPeriodEnd version tier { key } trialEndsAt currentPeriodEnd } } } }"""
CHECK = """query($id: ID!) { entitlementCheck(accountId: $id, feature: "b0") {
  ... on EntitlementCheck { allowed reason } } }"""


async def _bare_account(conn: asyncpg.Connection) -> UUID:
    account_id = uuid.uuid4()
    await conn.execute("insert into accounts (id, name) values ($1, 'New')", account_id)
    return account_id


async def _do(api: Api, key: str, query: str, **variables: Any) -> Any:
    variables["id"] = str(variables["id"])
    variables.setdefault("key", uuid.uuid4().hex)
    return next(iter((await api.data(query, variables, auth=key)).values()))


async def _sub(api: Api, key: str, account: UUID) -> Any:
    return (await api.data(SUB, {"id": str(account)}, auth=key))["account"]["subscription"]


async def test_a_subscription_is_created_once_with_its_trial(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    await factories.catalog(conn)
    key, account = await api_key(conn), await _bare_account(conn)
    made = await _do(api, key, CREATE, id=account, tier="pro", term="MONTHLY", seats=5, trial=14)
    again = await _do(api, key, CREATE, id=account, tier="basic", term="ANNUAL", seats=1, trial=0)
    bad = await _do(api, key, CREATE, id=await _bare_account(conn), tier="nope",
                    term="MONTHLY", seats=1, trial=0)  # fmt: skip
    created = await _sub(api, key, account)
    await due.apply_due(pool, catalog_loader(pool), NOW + timedelta(days=15))
    converted = await _sub(api, key, account)

    assert made["__typename"] == "SubscriptionChanged"
    assert created["status"] == "TRIALING" and created["tier"]["key"] == "pro"
    assert again["__typename"] == "AlreadyExistsError"
    existing = await conn.fetchval("select id from subscriptions where account_id = $1", account)
    assert again["existingId"] == str(existing)
    assert (bad["__typename"], bad["field"]) == ("InvalidInputError", "tier")
    assert (converted["status"], converted["trialEndsAt"]) == ("ACTIVE", None)


async def test_a_start_later_than_now_is_refused_and_an_earlier_one_is_kept(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Nothing models a subscription that has not started: one starting next month was
    active and entitled at once, and counted usage in a period before its first."""
    await factories.catalog(conn)
    key = await api_key(conn)
    starts = {
        "a day ahead": (NOW + timedelta(days=1), 0),
        "an hour ahead, with a trial": (NOW + timedelta(hours=1), 14),
        "over a year back": (NOW - timedelta(days=367), 0),
        "ahead by a clock's skew": (NOW + timedelta(seconds=30), 0),
        "a week back": (NOW - timedelta(days=7), 0),
    }
    answers, accounts = {}, {}
    for label, (at, trial) in starts.items():
        accounts[label] = await _bare_account(conn)
        answer = await _do(api, key, STARTING, id=accounts[label], at=at.isoformat(), trial=trial)
        answers[label] = answer.get("field", answer["__typename"])
    refused = await _do(api, key, STARTING, id=accounts["a day ahead"],
                        at=(NOW + timedelta(days=1)).isoformat(), trial=0)  # fmt: skip
    stored = await conn.fetch("select account_id, started_at from subscriptions")

    assert answers == {
        "a day ahead": "startsAt",
        "an hour ahead, with a trial": "startsAt",
        "over a year back": "startsAt",
        "ahead by a clock's skew": "SubscriptionChanged",
        "a week back": "SubscriptionChanged",
    }
    assert refused["message"] == (
        "a subscription cannot start later than now: create it when it starts"
    )
    assert {r["account_id"]: r["started_at"] for r in stored} == {
        accounts["ahead by a clock's skew"]: NOW + timedelta(seconds=30),
        accounts["a week back"]: NOW - timedelta(days=7),
    }


async def test_a_cancellation_at_the_period_end_is_applied_once_and_can_be_undone_before(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    scheduled = await _do(api, key, CANCEL, id=account, v=1, end=True)
    undone = await _do(api, key, REACTIVATE, id=account, v=2)
    not_scheduled = await _do(api, key, REACTIVATE, id=account, v=3)
    await _do(api, key, CANCEL, id=account, v=3, end=True)
    before_end = await _sub(api, key, account)
    # Down for months: the run after it ends the subscription once, and renews nothing.
    runs = [due.apply_due(pool, catalog_loader(pool), NOW + timedelta(days=90)) for _ in range(3)]
    applied = await asyncio.gather(*runs)
    ended = await _sub(api, key, account)
    check = await api.data(CHECK, {"id": str(account)}, auth=key)
    entries = await conn.fetch("select action from audit_log where target_kind = 'subscription'")

    assert scheduled["subscription"]["cancelAtPeriodEnd"] is True
    assert undone["subscription"]["cancelAtPeriodEnd"] is False
    assert (not_scheduled["__typename"], not_scheduled["field"]) == (
        "InvalidInputError",
        "accountId",
    )
    assert (before_end["status"], before_end["cancelAtPeriodEnd"]) == ("ACTIVE", True)
    assert sum(applied) == 1
    assert (ended["status"], ended["cancelAtPeriodEnd"]) == ("CANCELED", False)
    assert ended["currentPeriodEnd"] == before_end["currentPeriodEnd"]  # no renewal
    assert check["entitlementCheck"] == {"allowed": False, "reason": "SUSPENDED"}
    assert [e["action"] for e in entries] == [
        "subscription.cancel_scheduled",
        "subscription.reactivated",
        "subscription.cancel_scheduled",
        "subscription.ended",
    ]


async def test_cancel_now_and_dunning(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    past_due = await _do(api, key, STATUS, id=account, s="PAST_DUE", v=1)
    suspended = await api.data(CHECK, {"id": str(account)}, auth=frontend_token(account))
    active = await _do(api, key, STATUS, id=account, s="ACTIVE", v=2)
    canceled = await _do(api, key, CANCEL, id=account, v=3, end=False)
    revived = await _do(api, key, STATUS, id=account, s="ACTIVE", v=4)

    assert past_due["subscription"]["status"] == "PAST_DUE"
    assert suspended["entitlementCheck"]["reason"] == "SUSPENDED"
    assert active["subscription"]["status"] == "ACTIVE"
    assert canceled["subscription"]["status"] == "CANCELED"
    assert (revived["__typename"], revived["field"]) == ("InvalidInputError", "status")


async def test_a_cancellation_racing_a_tier_change_lets_exactly_one_win(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    for _ in range(5):
        account = await factories.account(conn, cat["versions"]["basic"])
        answers = await asyncio.gather(
            _do(api, key, CANCEL, id=account, v=1, end=False),
            _do(api, key, TIER, id=account, tier="pro", v=1),
        )
        kinds = sorted(a["__typename"] for a in answers)
        assert kinds == ["SubscriptionChanged", "VersionConflictError"], answers
        sub = await _sub(api, key, account)
        assert sub["version"] == 2


async def test_a_creation_is_not_rolled_back_and_a_canceling_account_gets_no_renewal(
    conn: asyncpg.Connection, api: Api, pool: asyncpg.Pool
) -> None:
    await factories.catalog(conn)
    key, account = await api_key(conn), await _bare_account(conn)
    await _do(api, key, CREATE, id=account, tier="basic", term="MONTHLY", seats=1, trial=0)
    entry = await conn.fetchval("select id from audit_log where action = 'subscription.created'")
    rolled = await api.data(
        """mutation($id: ID!) { auditRollback(entryId: $id, reason: "undo", idempotencyKey: "r")
           { __typename ... on InvalidInputError { field } } }""",
        {"id": str(entry)},
        auth=key,
    )
    await _do(api, key, CANCEL, id=account, v=1, end=True)
    view = await api.data(
        """query($id: ID!) { account(id: $id) { ... on Account { renewal { daysLeft } } } }""",
        {"id": str(account)},
        auth=key,
    )
    sent = await reminders.send_due(pool, catalog_loader(pool), NOW + timedelta(days=29))

    assert rolled["auditRollback"] == {"__typename": "InvalidInputError", "field": "entryId"}
    assert view["account"]["renewal"] is None
    assert sent == 0
