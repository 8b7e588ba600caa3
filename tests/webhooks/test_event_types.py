"""An endpoint follows only event types the service writes: an unknown one (a typo, or
`webhook.test`, which is sent whatever the endpoint follows) is refused on create and on
update, naming the field and the unknown types, and nothing is written."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from benefitgate.events import kinds
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.webhook_api import CREATE, create_endpoint
from tests.fixtures.webhooks import Receiver

UPDATE = """mutation($id: ID!, $v: Int!, $url: String!, $types: [String!]) {
  webhookEndpointUpdate(id: $id, expectedVersion: $v, url: $url, eventTypes: $types) {
    __typename ... on WebhookEndpointChanged { endpoint { version eventTypes } }
    ... on Error { code message } ... on InvalidInputError { field } } }"""

UNKNOWN = [
    (["milestone.reachd"], ["milestone.reachd"]),
    (["milestone.reachd", "seats.changed"], ["milestone.reachd"]),
    (["seats.changed", "nope.one", "entitlement.changed"], ["nope.one"]),
    (["seats.changed", "milestone.reached", "Seats.Changed"], ["Seats.Changed"]),
    (["webhook.test"], ["webhook.test"]),
    (["a.b", "seats.changed", "c.d", "a.b"], ["a.b", "c.d"]),
]


async def _written(conn: asyncpg.Connection) -> tuple[int, int]:
    endpoints = await conn.fetchval("select count(*) from webhook_endpoints")
    audited = await conn.fetchval(
        "select count(*) from audit_log where target_kind = 'webhook_endpoint'"
    )
    return endpoints, audited


async def _create(
    api: Api, auth: str, types: list[str], accounts: list[str] | None = None
) -> dict[str, Any]:
    variables = {"url": Receiver().url(), "types": types, "accounts": accounts}
    variables["key"] = uuid.uuid4().hex
    answer: dict[str, Any] = (await api.data(CREATE, variables, auth=auth))["webhookEndpointCreate"]
    return answer


@pytest.mark.parametrize(("types", "unknown"), UNKNOWN)
async def test_create_refuses_an_unknown_type_anywhere_in_the_list(
    conn: asyncpg.Connection, hooks_api: Api, types: list[str], unknown: list[str]
) -> None:
    key = await api_key(conn)
    before = await _written(conn)

    answer = await _create(hooks_api, key, types)

    assert (answer["__typename"], answer["code"], answer["field"]) == (
        "InvalidInputError",
        "INVALID_INPUT",
        "eventTypes",
    )
    assert answer["message"] == "unknown event types: " + ", ".join(repr(t) for t in unknown)
    assert await _written(conn) == before


@pytest.mark.parametrize(("types", "unknown"), UNKNOWN)
async def test_update_refuses_an_unknown_type_and_leaves_the_endpoint_as_it_was(
    conn: asyncpg.Connection, hooks_api: Api, types: list[str], unknown: list[str]
) -> None:
    key = await api_key(conn)
    created = await create_endpoint(hooks_api, key, Receiver().url(), types=["seats.changed"])
    before = await _written(conn)
    variables = {"id": created["endpoint"]["id"], "v": 1, "url": Receiver().url(), "types": types}

    answer = (await hooks_api.data(UPDATE, variables, auth=key))["webhookEndpointUpdate"]

    assert (answer["__typename"], answer["field"]) == ("InvalidInputError", "eventTypes")
    assert answer["message"] == "unknown event types: " + ", ".join(repr(t) for t in unknown)
    assert await _written(conn) == before
    stored = await conn.fetchrow("select version, event_types from webhook_endpoints")
    assert (stored["version"], stored["event_types"]) == (1, ["seats.changed"])


async def test_many_unknown_types_are_named_five_and_counted(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    types = [f"typo.{n}" for n in range(8)]

    answer = await _create(hooks_api, await api_key(conn), types)

    named = ", ".join(repr(t) for t in types[:5])
    assert answer["message"] == f"unknown event types: {named} and 3 more"


async def test_every_listed_type_is_accepted_on_create_and_update(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key = await api_key(conn)
    created = await create_endpoint(hooks_api, key, Receiver().url(), types=list(kinds.TYPES))
    variables = {
        "id": created["endpoint"]["id"],
        "v": 1,
        "url": Receiver().url(),
        "types": ["milestone.reached", "entitlement.changed"],
    }

    updated = (await hooks_api.data(UPDATE, variables, auth=key))["webhookEndpointUpdate"]

    assert created["endpoint"]["eventTypes"] == list(kinds.TYPES)
    assert updated["endpoint"] == {
        "version": 2,
        "eventTypes": ["milestone.reached", "entitlement.changed"],
    }


@pytest.mark.parametrize(
    "types",
    [[""], ["seats.changed", ""], ["x" * 101], ["seats.changed", "x" * 101], []],
    ids=["empty", "empty-among-known", "too-long", "too-long-among-known", "no-types"],
)
async def test_empty_and_over_long_types_are_refused_as_before(
    conn: asyncpg.Connection, hooks_api: Api, types: list[str]
) -> None:
    before = await _written(conn)

    answer = await _create(hooks_api, await api_key(conn), types)

    assert (answer["__typename"], answer["field"], answer["message"]) == (
        "InvalidInputError",
        "eventTypes",
        "give 1 to 50 event types, or none",
    )
    assert await _written(conn) == before


async def test_an_endpoint_that_hears_only_accounts_refuses_types_without_one(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    """A partner's endpoint, and one narrowed to accounts, hear only accounts' events:
    following `catalog.published` there would hear nothing. An internal endpoint for every
    account takes it."""
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = str(await factories.account(conn, cat["versions"]["basic"], partner_id=partner))
    admin, partners = await api_key(conn), await api_key(conn, Role.PARTNER, partner)
    types = ["seats.changed", "catalog.published", "api_key.revoked"]
    before = await _written(conn)

    by_partner = await _create(hooks_api, partners, types)
    narrowed = await _create(hooks_api, admin, types, accounts=[account])
    after_refusals = await _written(conn)
    for_all = await _create(hooks_api, admin, types)
    partner_known = await _create(hooks_api, partners, ["seats.changed", "milestone.reached"])

    message = (
        "only accounts' events come here, and these carry no account: "
        "'catalog.published', 'api_key.revoked'"
    )
    for refused in (by_partner, narrowed):
        assert (refused["__typename"], refused["field"], refused["message"]) == (
            "InvalidInputError",
            "eventTypes",
            message,
        )
    assert after_refusals == before
    assert for_all["__typename"] == partner_known["__typename"] == "WebhookEndpointCreated"
