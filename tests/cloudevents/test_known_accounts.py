"""POST /events keeps its batches' accounts in process, yet sees a change to one made on
another replica at once: before that replica's listener could have handed it over."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from benefitgate import db
from benefitgate.auth.principals import Role
from tests.conftest import Api, MakeApi, api_key
from tests.fixtures import factories
from tests.fixtures.cloudevents_api import cloud_event, post_events

UNLINK = """mutation($p: ID!, $a: ID!) { partnerUnlinkAccount(partnerId: $p, accountId: $a,
  idempotencyKey: "unlink") { __typename } }"""
CREATE = """mutation($ext: String!) { accountCreate(name: "New", idempotencyKey: "new",
  externalId: $ext) { __typename } }"""


@contextlib.asynccontextmanager
async def _listeners_held_back(dsn: str) -> AsyncIterator[None]:
    """An open transaction that holds every listener's horizon: events committed after it
    began are not handed over until it ends."""
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            await conn.fetchval("select pg_current_xact_id()")
            yield
    finally:
        await conn.close()


async def _results(api: Api, events: list[dict[str, Any]], key: str) -> list[Any]:
    response = await post_events(api.client, events, auth=key)
    assert response.status_code == 200, response.text
    return [(r["status"], r["reason"]) for r in response.json()["results"]]


async def test_an_account_unlinked_from_a_partner_on_one_replica_is_refused_at_once_on_another(
    conn: asyncpg.Connection, dsn: str, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    admin, partner_key = await api_key(conn), await api_key(conn, Role.PARTNER, partner)
    async with make_api() as a, make_api() as b:
        before = await _results(b, [cloud_event(account, "e1")], partner_key)
        async with _listeners_held_back(dsn):
            unlinked = await a.data(UNLINK, {"p": str(partner), "a": str(account)}, auth=admin)
            after = await _results(b, [cloud_event(account, "e2")], partner_key)
    assert before == [("ACCEPTED", None)]
    assert unlinked["partnerUnlinkAccount"]["__typename"] == "PartnerLinkChanged"
    assert after == [("REJECTED", "UNKNOWN_ACCOUNT")]


async def test_an_external_id_created_on_one_replica_is_found_at_once_on_another(
    conn: asyncpg.Connection, dsn: str, make_api: MakeApi
) -> None:
    await factories.catalog(conn)
    admin = await api_key(conn)
    async with make_api() as a, make_api() as b:
        before = await _results(b, [cloud_event("cus_new", "e1")], admin)
        async with _listeners_held_back(dsn):
            created = await a.data(CREATE, {"ext": "cus_new"}, auth=admin)
            after = await _results(b, [cloud_event("cus_new", "e2")], admin)
    assert before == [("REJECTED", "UNKNOWN_ACCOUNT")]
    assert created["accountCreate"]["__typename"] == "AccountProvisioned"
    assert after == [("ACCEPTED", None)]
