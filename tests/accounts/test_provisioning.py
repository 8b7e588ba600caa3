"""Provisioning accounts and partners through the API: an account under the vendor's own
id (one per id, however many creates race), found by it, changed at its version, audited
and reported; partners linked and unlinked, with visibility following at once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from benefitgate.auth.principals import Role
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories

CREATE = """mutation($ext: String, $name: String!, $meta: JSON, $partners: [ID!], $key: String!) {
  accountCreate(externalId: $ext, name: $name, metadata: $meta, partnerIds: $partners,
                idempotencyKey: $key) {
    __typename
    ... on AccountProvisioned { replayed account { id externalId name metadata version } }
    ... on AlreadyExistsError { existingId }
    ... on InvalidInputError { field }
    ... on Error { code message }
  }
}"""
UPDATE = """mutation($id: ID!, $v: Int!, $name: String!, $meta: JSON, $key: String!) {
  accountUpdate(id: $id, expectedVersion: $v, name: $name, metadata: $meta,
                idempotencyKey: $key) {
    __typename
    ... on AccountProvisioned { account { name metadata version } }
    ... on InvalidInputError { field }
    ... on Error { code }
  }
}"""
BY_EXTERNAL_ID = """query($ext: String!) { account(externalId: $ext) {
  __typename ... on Account { id externalId name version } ... on Error { code } } }"""
PARTNER = """mutation($name: String!, $key: String!) { partnerCreate(name: $name,
  idempotencyKey: $key) { __typename ... on PartnerCreated { id name } ... on Error { code } } }"""
LINK = """mutation($p: ID!, $a: ID!, $key: String!) {{ {op}(partnerId: $p, accountId: $a,
  idempotencyKey: $key) {{ __typename ... on PartnerLinkChanged {{ linked changed }}
  ... on Error {{ code }} }} }}"""
VIEW = """query($id: ID!) { account(id: $id) { __typename ... on Account { id } } }"""


async def _create(api: Api, auth: str, **given: Any) -> dict[str, Any]:
    variables = {"ext": None, "name": "Acme", "meta": None, "partners": None, **given}
    variables.setdefault("key", uuid.uuid4().hex)
    answer: dict[str, Any] = (await api.data(CREATE, variables, auth=auth))["accountCreate"]
    return answer


async def test_an_account_is_created_found_by_its_external_id_and_changed(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn, Role.OPERATOR)
    created = await _create(api, key, ext="cus_123", meta={"plan": "gold"}, key="c1")
    again = await _create(api, key, ext="cus_123", meta={"plan": "gold"}, key="c1")
    account = created["account"]
    found = (await api.data(BY_EXTERNAL_ID, {"ext": "cus_123"}, auth=key))["account"]
    changed = await api.data(
        UPDATE, {"id": account["id"], "v": 1, "name": "Acme Ltd", "meta": {}, "key": "u1"},
        auth=key,
    )  # fmt: skip
    stale = await api.data(
        UPDATE, {"id": account["id"], "v": 1, "name": "Other", "meta": {}, "key": "u2"},
        auth=key,
    )  # fmt: skip
    audit = await conn.fetch(
        "select action, before, after from audit_log where target_kind = 'account' order by id"
    )
    events = await conn.fetch("select type, account_id from events where type like 'account.%'")

    assert account["externalId"] == "cus_123" and account["metadata"] == {"plan": "gold"}
    assert (again["replayed"], again["account"]["id"]) == (True, account["id"])
    assert found == {"__typename": "Account", "id": account["id"], "externalId": "cus_123",
                     "name": "Acme", "version": 1}  # fmt: skip
    assert changed["accountUpdate"]["account"] == {"name": "Acme Ltd", "metadata": {}, "version": 2}
    assert stale["accountUpdate"]["code"] == "VERSION_CONFLICT"
    assert [a["action"] for a in audit] == ["account.created", "account.updated"]
    assert (
        audit[1]["before"]["metadata"] == {"plan": "gold"}
        and audit[1]["after"]["name"] == "Acme Ltd"
    )
    assert [(e["type"], str(e["account_id"])) for e in events] == [
        ("account.created", account["id"]),
        ("account.updated", account["id"]),
    ]


async def test_an_update_to_what_the_account_holds_changes_nothing(
    conn: asyncpg.Connection, api: Api
) -> None:
    """As other setters: no new version, audit entry or event, the account as it is."""
    key = await api_key(conn, Role.OPERATOR)
    meta = {"plan": "gold", "region": "eu"}
    account = (await _create(api, key, ext="cus_same", meta=meta))["account"]

    async def update(v: int, name: str, metadata: Any) -> Any:
        variables = {"id": account["id"], "v": v, "name": name, "meta": metadata,
                     "key": uuid.uuid4().hex}  # fmt: skip
        return (await api.data(UPDATE, variables, auth=key))["accountUpdate"]

    same = await update(1, "Acme", {"region": "eu", "plan": "gold"})
    padded_kept = await update(1, "  Acme ", None)  # the name is trimmed, metadata kept
    stale = await update(0, "Acme", meta)
    writes = await conn.fetchrow(
        """select (select count(*) from audit_log where action = 'account.updated'),
                  (select count(*) from events where type = 'account.updated')"""
    )
    changed = await update(1, "Acme", {"plan": "gold"})

    unchanged = {"name": "Acme", "metadata": meta, "version": 1}
    assert same == {"__typename": "AccountProvisioned", "account": unchanged}
    assert padded_kept == same
    assert stale["code"] == "VERSION_CONFLICT"
    assert tuple(writes) == (0, 0)
    assert changed["account"] == {"name": "Acme", "metadata": {"plan": "gold"}, "version": 2}


async def test_a_second_create_with_the_same_external_id_names_the_first(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    first = await _create(api, key, ext="cus_1")
    second = await _create(api, key, ext="cus_1", name="Someone else")

    assert second["__typename"] == "AlreadyExistsError"
    assert second["existingId"] == first["account"]["id"]
    assert second["message"] == "an account with this externalId exists already"
    assert await conn.fetchval("select count(*) from accounts") == 1


async def test_concurrent_creates_of_one_external_id_make_exactly_one_account(
    conn: asyncpg.Connection, api: Api
) -> None:
    key = await api_key(conn)
    answers = await asyncio.gather(*(_create(api, key, ext="cus_race") for _ in range(20)))

    kinds = sorted(a["__typename"] for a in answers)
    assert kinds.count("AccountProvisioned") == 1
    assert set(kinds) == {"AccountProvisioned", "AlreadyExistsError"}
    ids = {a.get("existingId") or a["account"]["id"] for a in answers}
    assert len(ids) == 1
    assert await conn.fetchval("select count(*) from accounts") == 1


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "\u200b\ufeff"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"ext": ""}, "externalId"),
        ({"ext": " "}, "externalId"),
        ({"ext": "\t\u200b "}, "externalId"),
        ({"ext": "x" * 256}, "externalId"),
        # Stored as given, " pad " was an account apart from "pad"; refused, not trimmed.
        ({"ext": " pad "}, "externalId"),
        ({"ext": "pad\t"}, "externalId"),
        ({"ext": "\u200bpad"}, "externalId"),
        ({"meta": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({"meta": {"k" * 41: "v"}}, "metadata"),
        ({"meta": {"k": "v" * 501}}, "metadata"),
        ({"meta": {"k": 1}}, "metadata"),
        ({"meta": [1, 2]}, "metadata"),
    ],
)
async def test_input_out_of_bounds_is_refused_and_writes_nothing(
    conn: asyncpg.Connection, api: Api, given: dict[str, Any], field: str
) -> None:
    answer = await _create(api, await api_key(conn), **given)
    assert (answer["__typename"], answer["field"]) == ("InvalidInputError", field)
    assert await conn.fetchval("select count(*) from accounts") == 0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"name": ""}, "give a name of 1 to 200 characters"),
        ({"name": "   "}, "give a name with visible characters, not only blanks"),
        ({"name": "\u200b\ufeff"}, "give a name with visible characters, not only blanks"),
        ({"ext": "\t\u200b "}, "give an id with visible characters, not blanks"),
    ],
)
async def test_a_blank_name_or_id_is_refused_as_blank(
    conn: asyncpg.Connection, api: Api, given: dict[str, Any], message: str
) -> None:
    """A name of invisible characters only was refused as if it were too long or short."""
    answer = await _create(api, await api_key(conn), **given)
    assert answer["message"] == message


async def test_only_internal_tools_provision(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    for auth in (await api_key(conn, Role.PARTNER, partner), frontend_token(account)):
        assert (await _create(api, auth))["code"] == "FORBIDDEN"
        made = (await api.data(PARTNER, {"name": "P", "key": "p"}, auth=auth))["partnerCreate"]
        assert made["code"] == "FORBIDDEN"


async def test_partner_links_decide_what_its_keys_see_at_once(
    conn: asyncpg.Connection, api: Api
) -> None:
    admin = await api_key(conn)
    made = (await api.data(PARTNER, {"name": "Reseller", "key": "p1"}, auth=admin))["partnerCreate"]
    partner = made["id"]
    created = await _create(api, admin, partners=[partner])
    account = created["account"]["id"]
    partner_key = await api_key(conn, Role.PARTNER, uuid.UUID(partner))
    seen_linked = await api.data(VIEW, {"id": account}, auth=partner_key)
    unlinked = await api.data(
        LINK.format(op="partnerUnlinkAccount"), {"p": partner, "a": account, "key": "u"}, auth=admin
    )
    seen_unlinked = await api.data(VIEW, {"id": account}, auth=partner_key)
    again = await api.data(
        LINK.format(op="partnerUnlinkAccount"),
        {"p": partner, "a": account, "key": "u2"},
        auth=admin,
    )
    relinked = await api.data(
        LINK.format(op="partnerLinkAccount"), {"p": partner, "a": account, "key": "l"}, auth=admin
    )
    unknown = await api.data(
        LINK.format(op="partnerLinkAccount"),
        {"p": str(uuid.uuid4()), "a": account, "key": "l2"},
        auth=admin,
    )
    types = [r["type"] for r in await conn.fetch("select type from events order by id")]
    actions = [r["action"] for r in await conn.fetch("select action from audit_log order by id")]

    assert seen_linked["account"]["__typename"] == "Account"
    assert unlinked["partnerUnlinkAccount"] == {
        "__typename": "PartnerLinkChanged", "linked": False, "changed": True
    }  # fmt: skip
    assert seen_unlinked["account"]["__typename"] == "NotFoundError"
    assert again["partnerUnlinkAccount"]["changed"] is False
    assert relinked["partnerLinkAccount"]["linked"] is True
    assert unknown["partnerLinkAccount"]["code"] == "NOT_FOUND"
    # The account is created before it is linked, in the feed and the audit log alike.
    assert types == [
        "partner.created",
        "account.created",
        "partner.account_linked",
        "partner.account_unlinked",
        "partner.account_linked",
    ]
    assert actions == [
        "partner.created",
        "account.created",
        "partner.account_linked",
        "partner.account_unlinked",
        "partner.account_linked",
    ]
