"""A change takes the subscription as every answer shows it: a step time made due (a
renewal, an end, a trial's end) and the scheduler has not written yet is written first,
under the change's lock, by the scheduler as actor. Before, reads took the subscription as
it stood at their instant while changes took the stored row: an ended subscription could
be reactivated, "cancel at period end" ended the period the view showed as renewed, and
an upgrade was prorated over a period already over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from benefitgate.clock import FixedClock
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.seats_api import ASSIGN
from tests.subscriptions.test_provisioning import CANCEL, CHECK, REACTIVATE, SUB, TIER

PAST_THE_PERIOD = NOW + timedelta(days=21)  # the factory's period ends NOW + 20 days


async def _setup(conn: asyncpg.Connection) -> tuple[dict[str, str], str]:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    return {"id": str(account_id)}, await api_key(conn)


async def _view(api: Api, ident: dict[str, str], key: str) -> dict[str, Any]:
    subscription: dict[str, Any] = (await api.data(SUB, ident, auth=key))["account"]["subscription"]
    return subscription


async def _steps(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "select action, actor from audit_log where target_kind = 'subscription' order by id"
    )
    return [(r["action"], r["actor"]) for r in rows]


async def test_a_subscription_that_ended_is_not_reactivated(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    ident, key = await _setup(conn)
    await api.data(CANCEL, {**ident, "v": 1, "end": True, "key": "c"}, auth=key)
    clock.at = PAST_THE_PERIOD
    shown = await _view(api, ident, key)

    answer = await api.data(REACTIVATE, {**ident, "v": 2, "key": "r"}, auth=key)

    assert shown["status"] == "CANCELED"
    assert answer["subscriptionReactivate"]["__typename"] == "InvalidInputError"
    assert (await _view(api, ident, key))["status"] == "CANCELED"
    check = (await api.data(CHECK, ident, auth=key))["entitlementCheck"]
    assert check["allowed"] is False
    # A refused change writes nothing: the end found due under its lock rolled back with
    # it, for the scheduler to write.
    assert [a for a, _ in await _steps(conn)][-1] == "subscription.cancel_scheduled"


async def test_cancel_at_period_end_after_an_unwritten_renewal_keeps_the_renewed_period(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    ident, key = await _setup(conn)
    clock.at = PAST_THE_PERIOD
    renewed = await _view(api, ident, key)

    answer = await api.data(CANCEL, {**ident, "v": 1, "end": True, "key": "c"}, auth=key)
    after = await _view(api, ident, key)

    assert answer["subscriptionCancel"]["__typename"] == "SubscriptionChanged"
    assert renewed["status"] == "ACTIVE"
    assert (after["status"], after["cancelAtPeriodEnd"]) == ("ACTIVE", True)
    assert after["currentPeriodEnd"] == renewed["currentPeriodEnd"]
    assert (await api.data(CHECK, ident, auth=key))["entitlementCheck"]["allowed"] is True
    steps = await _steps(conn)
    assert [a for a, _ in steps[-2:]] == ["subscription.renewed", "subscription.cancel_scheduled"]
    assert steps[-2][1] == "scheduler"


async def test_an_upgrade_after_an_unwritten_renewal_is_prorated_over_the_new_period(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    ident, key = await _setup(conn)
    clock.at = PAST_THE_PERIOD
    renewed = await _view(api, ident, key)

    answer = await api.data(TIER, {**ident, "tier": "pro", "v": 1, "key": "t"}, auth=key)
    change = await conn.fetchval(
        "select payload->'change' from events where payload ? 'change' order by id desc limit 1"
    )

    assert answer["subscriptionChangeTier"]["__typename"] == "SubscriptionChanged"
    assert '"amountDueCents": 0' not in change  # a month of pro was never charged
    after = await _view(api, ident, key)
    assert (after["tier"]["key"], after["currentPeriodEnd"]) == ("pro", renewed["currentPeriodEnd"])


async def test_no_seat_is_taken_on_a_subscription_that_ended(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    """Seat changes take the subscription as it stands too: assigning a seat checked the
    stored row's status, so a subscription canceled at the end of a period that was over
    (and shown CANCELED) still gave out seats until the scheduler wrote its end."""
    ident, key = await _setup(conn)
    await conn.execute("update subscriptions set seats = 3")
    await api.data(CANCEL, {**ident, "v": 1, "end": True, "key": "c"}, auth=key)
    clock.at = PAST_THE_PERIOD
    assert (await _view(api, ident, key))["status"] == "CANCELED"

    answer = await api.data(ASSIGN, {**ident, "user": "ann", "key": "a"}, auth=key)

    assert answer["seatAssign"]["__typename"] == "InvalidInputError", answer
    assert await conn.fetchval("select count(*) from seat_assignments") == 0
