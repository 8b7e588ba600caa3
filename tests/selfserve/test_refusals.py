"""What self-service leaves to others, end to end over HTTP: callers other than the
account's own frontend, the operators' mutations, upgrades, a second trial of a tier, and
input the subscription refuses, each as its typed error with nothing written."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.config import Settings
from benefitgate.selfserve.models import Policy
from benefitgate.subscriptions import due
from tests.conftest import MakeApi, api_key, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.selfserve_api import ACTIONS, ALL, Case, act, preview, state
from tests.fixtures.subscriptions_api import RESULT

BY_ACTION = {case.action: case for case in ACTIONS}
TRIAL, DOWNGRADE, TERM = (BY_ACTION[a] for a in ("START_TRIAL", "SCHEDULE_DOWNGRADE",
                                                   "SCHEDULE_TERM_CHANGE"))  # fmt: skip
# The operators' mutations, which a frontend may not call whatever the policy.
OPERATORS = {
    "subscriptionStartTrial": 'tier: "pro", days: 7',
    "subscriptionChangeTier": 'tier: "pro"',
    "subscriptionChangeTerm": "term: ANNUAL",
    "subscriptionCancelScheduledChange": "",
    "subscriptionCancel": "",
    "subscriptionReactivate": "",
    "subscriptionSetTrialConversion": "convert: true",
}
AFTER_TRIAL = datetime.fromisoformat("2026-12-01T00:00:00+00:00")


def _operator(mutation: str, arguments: str) -> str:
    more = f", {arguments}" if arguments else ""
    return f"""mutation($id: ID!) {{ {mutation}(accountId: $id, expectedVersion: 1,
               idempotencyKey: "op"{more}) {{ {RESULT} }} }}"""


@pytest.mark.parametrize("case", ACTIONS, ids=[c.action for c in ACTIONS])
async def test_only_the_accounts_own_frontend_may_self_serve(
    conn: asyncpg.Connection, make_api: MakeApi, case: Case
) -> None:
    cat = await factories.catalog(conn)
    partner_id = await factories.partner(conn)
    account_id = await factories.account(conn, cat["versions"][case.tier], partner_id=partner_id)
    other = await factories.account(conn, cat["versions"][case.tier])
    callers = {
        "admin": await api_key(conn),
        "operator": await api_key(conn, Role.OPERATOR),
        "partner": await api_key(conn, Role.PARTNER, partner_id),
    }
    async with make_api(self_serve=ALL) as api:
        for name, auth in callers.items():
            refused = await act(api, auth, case, account_id, 1, f"k-{name}")
            assert (refused["code"], name) == ("FORBIDDEN", name)
            seen = await preview(api, auth, case, account_id)
            assert (seen["code"], name) == ("FORBIDDEN", name)
        stranger = frontend_token(other)
        assert (await act(api, stranger, case, account_id, 1, "k"))["code"] == "NOT_FOUND"
        assert (await preview(api, stranger, case, account_id))["code"] == "NOT_FOUND"
        assert await conn.fetchval("select count(*) from audit_log") == 0
        assert await conn.fetchval("select version from subscriptions where account_id = $1",
                                   account_id) == 1  # fmt: skip


async def test_a_frontend_may_not_call_the_operators_mutations_whatever_the_policy(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    token = frontend_token(account_id)
    async with make_api(self_serve=ALL) as api:
        for mutation, arguments in OPERATORS.items():
            done = await api.data(_operator(mutation, arguments), {"id": str(account_id)},
                                  auth=token)  # fmt: skip
            assert (done[mutation]["code"], mutation) == ("FORBIDDEN", mutation)
    assert await conn.fetchval("select count(*) from audit_log") == 0


async def test_a_trial_is_once_per_account_and_tier_whoever_started_the_first(
    conn: asyncpg.Connection, make_api: MakeApi, pool: asyncpg.Pool
) -> None:
    cat = await factories.catalog(conn)
    own = await factories.account(conn, cat["versions"]["basic"])
    operators = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    async with make_api(self_serve=ALL, self_serve_trial_days=7) as api:
        token = frontend_token(own)
        started = await act(api, token, TRIAL, own, 1, "first")
        assert started["subscription"]["trialEndsAt"] == "2026-11-22T12:00:00+00:00"
        by_operator = await api.data(_operator("subscriptionStartTrial", OPERATORS[
            "subscriptionStartTrial"]), {"id": str(operators)}, auth=key)  # fmt: skip
        assert by_operator["subscriptionStartTrial"]["__typename"] == "SubscriptionChanged"
        assert await due.apply_due(pool, catalog_loader(pool), AFTER_TRIAL) == 2

        for account_id in (own, operators):
            auth = frontend_token(account_id)
            fell_back = await state(api, auth, account_id)
            assert (fell_back["tier"], fell_back["version"]) == ({"key": "basic"}, 3)
            again = await act(api, auth, TRIAL, account_id, 3, "again")
            assert again["code"] == "FORBIDDEN"
            assert again["message"] == "the account has had a trial of 'pro'"
            assert (await preview(api, auth, TRIAL, account_id))["code"] == "FORBIDDEN"
    assert await conn.fetchval("select count(*) from subscription_trials") == 2
    # An operator may still grant another (the rule is self-service's).
    async with make_api() as api:
        variables = {"id": str(operators)}
        query = _operator("subscriptionStartTrial", OPERATORS["subscriptionStartTrial"])
        again = await api.data(query.replace("1,", "3,").replace('"op"', '"op2"'),
                               variables, auth=key)  # fmt: skip
        assert again["subscriptionStartTrial"]["__typename"] == "SubscriptionChanged"


async def test_concurrent_trial_starts_of_one_account_start_exactly_one(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    token = frontend_token(account_id)
    async with make_api(self_serve=ALL, pool_max=8) as api:
        results = await asyncio.gather(
            *(act(api, token, TRIAL, account_id, 1, f"k{i}") for i in range(8))
        )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["SubscriptionChanged"] + ["VersionConflictError"] * 7
    assert await conn.fetchval("select count(*) from subscription_trials") == 1
    assert await conn.fetchval("select count(*) from audit_log") == 1


async def test_refusals_of_the_rules_and_of_the_subscription_are_typed(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    token = frontend_token(account_id)

    async def outcome(result: dict[str, Any]) -> tuple[str, str]:
        return result["code"], result.get("field", "")

    async with make_api(self_serve=ALL) as api:
        up = await act(api, token, DOWNGRADE, account_id, 1, "k1", tier="pro")
        assert await outcome(up) == ("FORBIDDEN", "")
        assert "upgrades follow a suggestion" in up["message"]
        assert await outcome(await preview(api, token, DOWNGRADE, account_id, tier="pro")) == (
            "FORBIDDEN", "",
        )  # fmt: skip
        gold = await act(api, token, DOWNGRADE, account_id, 1, "k2", tier="gold")
        assert await outcome(gold) == ("INVALID_INPUT", "tier")
        lower = await act(api, token, TRIAL, account_id, 1, "k3", tier="basic")
        assert await outcome(lower) == ("INVALID_INPUT", "tier")
        same = await act(api, token, TERM, account_id, 1, "k4", term="MONTHLY")
        assert await outcome(same) == ("INVALID_INPUT", "term")
        undo = await act(api, token, BY_ACTION["UNDO_CANCEL"], account_id, 1, "k5")
        assert await outcome(undo) == ("INVALID_INPUT", "accountId")
        nothing = await act(api, token, BY_ACTION["CANCEL_SCHEDULED_CHANGE"], account_id, 1, "k6")
        assert await outcome(nothing) == ("INVALID_INPUT", "accountId")
        stale = await act(api, token, TERM, account_id, 7, "k7")
        assert (stale["code"], stale["currentVersion"]) == ("VERSION_CONFLICT", 1)
        untiered = {"id": str(account_id), "action": "START_TRIAL"}
        missing = (await api.data(_PREVIEW_BARE, untiered, auth=token))["selfServePreview"]
        assert (missing["code"], missing["field"]) == ("INVALID_INPUT", "tier")

        term = await act(api, token, TERM, account_id, 1, "k8")
        assert term["__typename"] == "SubscriptionChanged"
    async with make_api(self_serve=frozenset({"downgrade"})) as api:
        kept = await act(api, token, BY_ACTION["CANCEL_SCHEDULED_CHANGE"], account_id, 2, "k9")
        assert kept["message"] == "the vendor's self-serve policy does not allow 'term'"
    assert await conn.fetchval("select count(*) from audit_log") == 1


_PREVIEW_BARE = """query($id: ID!, $action: SelfServeAction!) {
  selfServePreview(accountId: $id, action: $action) {
    ... on InvalidInputError { code field } ... on Error { code } } }"""


async def test_the_policy_is_what_the_settings_turn_on_and_a_misspelt_switch_stops_start_up(
    conn: asyncpg.Connection, make_api: MakeApi, settings: Settings
) -> None:
    cat = await factories.catalog(conn)
    token = frontend_token(await factories.account(conn, cat["versions"]["basic"]))
    query = "{ selfServePolicy { trial downgrade term cancel trialDays } }"
    async with make_api(self_serve=frozenset({"trial", "cancel"}), self_serve_trial_days=7) as api:
        policy = (await api.data(query, auth=token))["selfServePolicy"]
    assert policy == {"trial": True, "downgrade": False, "term": False, "cancel": True,
                      "trialDays": 7}  # fmt: skip
    async with make_api() as api:
        default = (await api.data(query, auth=token))["selfServePolicy"]
    assert default == {"trial": False, "downgrade": False, "term": False, "cancel": False,
                       "trialDays": 14}  # fmt: skip
    with pytest.raises(ValueError, match="BENEFITGATE_SELF_SERVE: unknown upgrade"):
        Policy.of(replace(settings, self_serve=frozenset({"trial", "upgrade"})))
    with pytest.raises(ValueError, match="BENEFITGATE_SELF_SERVE_TRIAL_DAYS"):
        Policy.of(replace(settings, self_serve_trial_days=0))


def test_the_policy_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENEFITGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BENEFITGATE_SELF_SERVE", raising=False)
    monkeypatch.delenv("BENEFITGATE_SELF_SERVE_TRIAL_DAYS", raising=False)
    assert Policy.of(Settings.from_env()) == Policy(frozenset(), 14)
    monkeypatch.setenv("BENEFITGATE_SELF_SERVE", " trial, cancel ")
    monkeypatch.setenv("BENEFITGATE_SELF_SERVE_TRIAL_DAYS", "30")
    assert Policy.of(Settings.from_env()) == Policy(frozenset({"trial", "cancel"}), 30)


async def test_a_preview_refuses_an_argument_its_action_does_not_take(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    """A downgrade's preview with a term previewed the downgrade alone, at the current
    term's price, as if the term had been taken into account: no action moves tier and
    term at once, so the preview says so instead."""
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["pro"])
    token = frontend_token(account_id)
    cancel = BY_ACTION["CANCEL_AT_PERIOD_END"]
    async with make_api(self_serve=ALL) as api:
        for case, given, field in [
            (DOWNGRADE, {"term": "ANNUAL"}, "term"),
            (TRIAL, {"term": "ANNUAL"}, "term"),
            (cancel, {"term": "ANNUAL"}, "term"),
            (TERM, {"tier": "basic"}, "tier"),
            (cancel, {"tier": "basic"}, "tier"),
        ]:
            seen = await preview(api, token, case, account_id, **given)
            assert (seen.get("code"), seen.get("field")) == ("INVALID_INPUT", field), case
        # The term it takes, it honours: the next period's term, end and price.
        seen = await preview(api, token, TERM, account_id)
        period = seen["nextPeriod"]
        assert (period["term"], period["endsAt"][:10]) == ("ANNUAL", "2027-12-05")
        assert period["price"] == {"amountCents": 50000, "currency": "USD"}
        assert seen["currentPrice"] == {"amountCents": 5000, "currency": "USD"}
        assert (await state(api, token, account_id))["version"] == 1  # nothing written
