"""How limit overrides show in the account view: an override superseded by a newer one
counts for nothing in an entitlement's amount, which agrees with the limit in `usage`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.clock import FixedClock
from tests.conftest import Api, frontend_token
from tests.fixtures import entitlements_api
from tests.fixtures.entitlements_api import CREATE, create_vars

OVERRIDE = """mutation O($id: ID!, $included: Float!, $key: String!) {
  limitOverride(accountId: $id, metric: "m0", included: $included, idempotencyKey: $key) {
    __typename } }"""
VIEW = """query V($id: ID!) { account(id: $id) { ... on Account {
  entitlements { benefit { key } source sources amount }
  usage { metric { key } limit } } } }"""


async def _override(api: Api, key: str, account: UUID, included: float, name: str) -> None:
    variables = {"id": str(account), "included": included, "key": name}
    found = await api.data(OVERRIDE, variables, auth=key)
    assert found["limitOverride"]["__typename"] == "GrantChanged"


async def _view(api: Api, account: UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    data = (await api.data(VIEW, {"id": str(account)}, auth=frontend_token(account)))["account"]
    entitlements = {e["benefit"]["key"]: e for e in data["entitlements"]}
    return entitlements, {u["metric"]["key"]: u["limit"] for u in data["usage"]}


async def test_a_superseded_override_counts_for_nothing_in_the_amount(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account, key = await entitlements_api.setup(conn)
    await _override(api, key, account, 300, "o1")
    clock.advance(timedelta(minutes=1))
    await _override(api, key, account, 200, "o2")

    entitlements, limits = await _view(api, account)

    assert limits["m0"] == 200.0
    assert entitlements["m0_more"] == {
        "benefit": {"key": "m0_more"},
        "source": "MANUAL",
        "sources": ["MANUAL"],
        "amount": 200.0,
    }


async def test_an_override_and_raises_on_top_add_up_to_the_limit(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    account, key = await entitlements_api.setup(conn)
    for n, included in enumerate((300.0, 120.0, 250.0)):
        await _override(api, key, account, included, f"o{n}")
        clock.advance(timedelta(minutes=1))
    raise_vars = create_vars(account, "r1", benefit="m0_more", source="ADDON", amount=40)
    assert (await api.data(CREATE, raise_vars, auth=key))["grantCreate"]["__typename"] == (
        "GrantChanged"
    )

    entitlements, limits = await _view(api, account)

    assert limits["m0"] == 290.0
    assert entitlements["m0_more"]["amount"] == 290.0
    assert entitlements["m0_more"]["sources"] == ["MANUAL", "ADDON"]


async def test_raises_alone_add_their_amounts_on_top_of_the_tier(
    conn: asyncpg.Connection, api: Api
) -> None:
    account, key = await entitlements_api.setup(conn)
    for name, amount in (("r1", 40), ("r2", 60)):
        variables = create_vars(account, name, benefit="m0_more", source="ADDON", amount=amount)
        assert (await api.data(CREATE, variables, auth=key))["grantCreate"]["__typename"] == (
            "GrantChanged"
        )

    entitlements, limits = await _view(api, account)

    assert entitlements["m0_more"]["amount"] == 100.0  # what the grants add
    assert limits["m0"] == 200.0  # on the tier's 100
