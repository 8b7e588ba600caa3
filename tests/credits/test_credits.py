"""Credits end to end: grants in, consumption out through the credit's metric (soonest-
ending grant first, recorded as usage), expiry, and exactness under concurrency."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.metering.groups import MAX_GROUPS
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.statements import StatementLog

CONSUME = """
mutation Consume($id: ID!, $metric: String!, $amount: Float!, $key: String!) {
  creditConsume(accountId: $id, metric: $metric, amount: $amount, idempotencyKey: $key) {
    __typename
    ... on CreditConsumed { amount balance draws { grantId amount } replayed }
    ... on CreditsExhaustedError { code requested balance replayed }
    ... on AccountSuspendedError { status replayed }
    ... on InvalidInputError { field }
    ... on Error { code message }
  }
}
"""
CREDITS = """
query Credits($id: ID!) { account(id: $id) { ... on Account { credits {
  benefit { key } metric { key } balance expiresAt
  ledger { at kind amount grantId metric } } } } }
"""


async def _setup(conn: asyncpg.Connection) -> dict[str, Any]:
    """An account with a services credit consumed through `expert_hours`: 6 hours ending in
    ten days, 4 that never end, and 3 that ended five days ago; and an onboarding credit
    no metric measures."""
    cat = await factories.catalog(conn)
    await conn.execute(
        "insert into metrics values ('expert_hours', 'Expert hours', 'hours', 'sum', 'never')"
    )
    await conn.execute(
        """insert into benefits (key, name, kind, metric_key, introduced_on) values
           ('services', 'Services credit', 'credit', 'expert_hours', '2025-01-01'),
           ('onboarding', 'Onboarding credit', 'credit', null, '2025-01-01')"""
    )
    account_id = await factories.account(conn, cat["versions"]["basic"])
    soon = await factories.grant(
        conn, account_id, "services", amount=6, valid_until=NOW + timedelta(days=10)
    )
    never = await factories.grant(conn, account_id, "services", amount=4)
    ended = uuid.uuid4()
    await conn.execute(
        """insert into grants (id, account_id, benefit_key, source, amount, valid_from,
           valid_until) values ($1, $2, 'services', 'milestone', 3, $3, $4)""",
        ended,
        account_id,
        NOW - timedelta(days=30),
        NOW - timedelta(days=5),
    )
    await factories.grant(conn, account_id, "onboarding", amount=2000)
    return {"account": account_id, "soon": soon, "never": never, "ended": ended}


def _vars(account_id: UUID, amount: float, key: str, metric: str = "expert_hours") -> Any:
    return {"id": str(account_id), "metric": metric, "amount": amount, "key": key}


async def _credits(api: Api, account_id: UUID) -> dict[str, Any]:
    token = frontend_token(account_id, ttl=timedelta(days=30))
    data = await api.data(CREDITS, {"id": str(account_id)}, auth=token)
    return {c["benefit"]["key"]: c for c in data["account"]["credits"]}


async def test_consumption_draws_the_soonest_ending_grant_first_and_is_recorded_as_usage(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _setup(conn)
    key = await api_key(conn, Role.OPERATOR)
    before = await _credits(api, s["account"])
    assert before["services"]["balance"] == 10
    assert before["services"]["expiresAt"] == "2026-11-25T12:00:00+00:00"
    assert before["onboarding"]["metric"] is None and before["onboarding"]["balance"] == 2000

    spent = (await api.data(CONSUME, _vars(s["account"], 7, "c1"), auth=key))["creditConsume"]
    assert spent["balance"] == 3
    assert spent["draws"] == [
        {"grantId": str(s["soon"]), "amount": 6},
        {"grantId": str(s["never"]), "amount": 1},
    ]
    replay = (await api.data(CONSUME, _vars(s["account"], 7, "c1"), auth=key))["creditConsume"]
    assert replay == {**spent, "replayed": True}
    assert (
        await conn.fetchval("select value from usage_counters where metric_key = 'expert_hours'")
        == 7
    )
    assert await conn.fetchval("select count(*) from usage_event_ids where source = 'credit'") == 1

    after = (await _credits(api, s["account"]))["services"]
    assert (after["balance"], after["expiresAt"]) == (3, None)  # the expiring grant is spent
    ledger = [(e["kind"], e["amount"], e["grantId"]) for e in after["ledger"]]
    assert Counter(ledger) == Counter(
        [
            ("CONSUMED", -6, str(s["soon"])),
            ("CONSUMED", -1, str(s["never"])),
            ("GRANTED", 6, str(s["soon"])),
            ("GRANTED", 4, str(s["never"])),
            ("EXPIRED", -3, str(s["ended"])),
            ("GRANTED", 3, str(s["ended"])),
        ]
    )
    instants = [e["at"] for e in after["ledger"]]
    assert instants == sorted(instants, reverse=True)  # newest first
    assert ledger[-2:] == [("EXPIRED", -3, str(s["ended"])), ("GRANTED", 3, str(s["ended"]))]
    assert {e["metric"] for e in after["ledger"] if e["kind"] == "CONSUMED"} == {"expert_hours"}
    assert sum(e["amount"] for e in after["ledger"]) == after["balance"]


async def test_what_is_left_of_a_grant_expires_at_its_end(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    s = await _setup(conn)
    key = await api_key(conn)
    await api.data(CONSUME, _vars(s["account"], 4, "c1"), auth=key)  # 2 left of the 6
    clock.advance(timedelta(days=11))
    services = (await _credits(api, s["account"]))["services"]
    assert services["balance"] == 4
    expired = next(e for e in services["ledger"] if e["grantId"] == str(s["soon"]))
    assert (expired["kind"], expired["amount"], expired["at"]) == (
        "EXPIRED",
        -2,
        "2026-11-25T12:00:00+00:00",
    )
    short = (await api.data(CONSUME, _vars(s["account"], 5, "c2"), auth=key))["creditConsume"]
    assert (short["code"], short["requested"], short["balance"]) == ("CREDITS_EXHAUSTED", 5, 4)
    assert await conn.fetchval("select sum(amount) from credit_draws") == 4


async def test_concurrent_consumptions_take_exactly_the_balance_and_replays_take_once(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _setup(conn)
    key = await api_key(conn)
    results = await asyncio.gather(
        *(api.data(CONSUME, _vars(s["account"], 1, f"k{n}"), auth=key) for n in range(30))
    )
    kinds = [r["creditConsume"]["__typename"] for r in results]
    assert kinds.count("CreditConsumed") == 10
    assert kinds.count("CreditsExhaustedError") == 20
    drawn = await conn.fetch(
        "select grant_id, sum(amount) as drawn from credit_draws group by grant_id"
    )
    assert {r["grant_id"]: r["drawn"] for r in drawn} == {s["soon"]: 6, s["never"]: 4}
    assert await conn.fetchval("select value from usage_counters where metric_key = "
                               "'expert_hours'") == 10  # fmt: skip
    assert (await _credits(api, s["account"]))["services"]["balance"] == 0

    await conn.execute("delete from credit_draws")  # a fresh balance of 10 for the replays
    replays = await asyncio.gather(
        *(api.data(CONSUME, _vars(s["account"], 3, "same"), auth=key) for _ in range(8))
    )
    answers = [r["creditConsume"] for r in replays]
    # Each is the one consumption, replayed, or refused while the first was in flight.
    assert {a.get("balance", a.get("code")) for a in answers} <= {7, "IDEMPOTENCY_CONFLICT"}
    assert sum(a.get("replayed") is False for a in answers) == 1
    assert await conn.fetchval("select sum(amount) from credit_draws") == 3


async def test_bad_consumptions_are_refused_with_the_field_and_nothing_written(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _setup(conn)
    key = await api_key(conn)
    stranger = await api_key(conn, Role.PARTNER, await factories.partner(conn))

    async def refused(auth: str = key, **kw: Any) -> dict[str, Any]:
        variables = {**_vars(s["account"], 1, "k"), **kw}
        result: dict[str, Any] = (await api.data(CONSUME, variables, auth=auth))["creditConsume"]
        return result

    assert (await refused(metric="nope"))["field"] == "metric"
    assert (await refused(metric="m0"))["field"] == "metric"  # no credit is measured by it
    assert (await refused(amount=0))["field"] == "amount"
    assert (await refused(amount=-2))["field"] == "amount"
    assert (await refused(amount=1e300))["field"] == "amount"
    for tiny in (1e-7, 1e-300, 5e-324, 0.1 + 0.2):  # counted to a millionth
        assert (await refused(amount=tiny))["field"] == "amount", tiny
    assert (await refused(auth=frontend_token(s["account"])))["code"] == "FORBIDDEN"
    assert (await refused(auth=stranger))["code"] == "NOT_FOUND"
    assert (await refused(id="not-an-id"))["code"] == "NOT_FOUND"
    assert await conn.fetchval("select count(*) from credit_draws") == 0
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


PAGE = """{ accounts(first: 50) { ... on AccountConnection { edges { node {
  credits { balance ledger { amount } } } } } } }"""


@pytest.mark.parametrize("size", [1, 5])
async def test_a_page_of_accounts_reads_every_credit_in_two_statements(
    conn: asyncpg.Connection, make_api: MakeApi, size: int
) -> None:
    s = await _setup(conn)
    version = await conn.fetchval("select tier_version_id from subscriptions")
    others = [await factories.account(conn, version) for _ in range(size - 1)]
    for account_id in others:
        await factories.grant(conn, account_id, "services", amount=5)
    key = await api_key(conn)
    log = StatementLog()
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1) as api:
        await api.data(CONSUME, _vars(s["account"], 2, "c1"), auth=key)
        await api.data(PAGE, auth=key)
        log.statements.clear()
        data = await api.data(PAGE, auth=key)
    balances = sorted(c["balance"] for e in data["accounts"]["edges"] for c in e["node"]["credits"])
    assert balances == sorted([5.0] * (size - 1) + [8.0, 2000.0])
    # The lots and the newest draws: one statement each, whatever the page's size (other
    # statements on the one connection are the page's own and the background's: the
    # listener's outbox reads, the webhook dispatcher's look for due endpoints).
    mine = [q for q in log.statements if re.search(r"\b(grants|credit_draws)\b", q)]
    assert len(mine) == 2, mine


RECORD = """mutation Record($events: [UsageEventInput!]!) { usageRecord(events: $events) {
  __typename ... on UsageRecorded { accepted } } }"""


async def test_a_consumption_the_metrics_rules_refuse_is_said_so_and_writes_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    """A consumption is recorded as usage of its metric; when the metric's rules refuse
    that usage (here: a metric with dimensions whose account has the most groups this
    period, the consumption counting in the group without properties), the answer names
    the metric and the rule, never "recorded already" on the idempotency key."""
    s = await _setup(conn)
    await conn.execute("update metrics set group_by = '{region}' where key = 'expert_hours'")
    key = await api_key(conn)
    events = [
        {"eventId": f"e{n}", "accountId": str(s["account"]), "metric": "expert_hours",
         "value": 0.01, "occurredAt": NOW.isoformat(), "properties": {"region": f"r{n}"}}
        for n in range(MAX_GROUPS)
    ]  # fmt: skip
    recorded = await api.data(RECORD, {"events": events}, auth=key)
    assert recorded["usageRecord"]["accepted"] == MAX_GROUPS
    drawn = await conn.fetchval("select count(*) from credit_draws")
    refused = await api.data(CONSUME, _vars(s["account"], 1, "k1"), auth=key)
    assert refused["creditConsume"]["field"] == "metric"
    assert "too_many_groups" in refused["creditConsume"]["message"]
    assert await conn.fetchval("select count(*) from credit_draws") == drawn
    assert (await _credits(api, s["account"]))["services"]["balance"] == 10


async def _waiting_on_a_lock(conn: asyncpg.Connection) -> None:
    for _ in range(500):
        waiting = await conn.fetchval(
            """select count(*) from pg_stat_activity
               where datname = current_database() and wait_event_type = 'Lock'"""
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the consumption never waited for the lots' locks")


async def test_a_consumption_draws_only_on_the_lots_it_locked(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    """Exactness rests on every draw being on a lot its consumption holds locked. A lot
    granted while a consumption waits for the locks is not locked by it, though the read
    after the locks sees it: two consumptions could both draw on such a lot (one whose
    locks it was not among, say the first lot of an account). It waits for the next."""
    s = await _setup(conn)
    key = await api_key(conn)
    async with pool.acquire() as holder:
        hold = holder.transaction()
        await hold.start()
        await holder.execute("select 1 from grants where id = $1 for update", s["never"])
        consuming = asyncio.create_task(api.data(CONSUME, _vars(s["account"], 1, "k1"), auth=key))
        await _waiting_on_a_lock(conn)
        # Ends first, so it would be drawn first: granted and committed mid-consumption.
        fresh = await factories.grant(
            conn, s["account"], "services", amount=5, valid_until=NOW + timedelta(days=1)
        )
        await hold.rollback()
    consumed = (await consuming)["creditConsume"]
    assert consumed["__typename"] == "CreditConsumed"
    drawn = {r["grant_id"] for r in await conn.fetch("select grant_id from credit_draws")}
    assert drawn == {s["soon"]}, drawn
    # The next consumption locks it, and takes it first.
    again = await api.data(CONSUME, _vars(s["account"], 1, "k2"), auth=key)
    assert again["creditConsume"]["draws"] == [{"grantId": str(fresh), "amount": 1}]


async def test_an_exhausted_credit_says_what_is_left_in_figures_a_person_reads(
    conn: asyncpg.Connection, api: Api
) -> None:
    s = await _setup(conn)
    key = await api_key(conn, Role.OPERATOR)
    await api.data(CONSUME, _vars(s["account"], 0.1, "c1"), auth=key)
    await api.data(CONSUME, _vars(s["account"], 0.2, "c2"), auth=key)

    short = (await api.data(CONSUME, _vars(s["account"], 1e12, "c3"), auth=key))["creditConsume"]

    assert short["code"] == "CREDITS_EXHAUSTED"
    # The balance is a numeric sum: "{:f}" wrote every digit of its scale.
    assert short["message"] == "expert_hours: 9.7 credits left, 1,000,000,000,000 requested"


async def test_a_suspended_account_consumes_no_credit(conn: asyncpg.Connection, api: Api) -> None:
    s = await _setup(conn)
    key = await api_key(conn, Role.OPERATOR)
    await conn.execute(
        "update subscriptions set status = 'past_due' where account_id = $1", s["account"]
    )

    refused = (await api.data(CONSUME, _vars(s["account"], 1, "c1"), auth=key))["creditConsume"]
    again = (await api.data(CONSUME, _vars(s["account"], 1, "c1"), auth=key))["creditConsume"]

    assert refused["__typename"] == "AccountSuspendedError"
    assert (refused["code"], refused["status"], refused["replayed"]) == (
        "ACCOUNT_SUSPENDED",
        "PAST_DUE",
        False,
    )
    assert again["replayed"] is True
    assert (await _credits(api, s["account"]))["services"]["balance"] == 10
