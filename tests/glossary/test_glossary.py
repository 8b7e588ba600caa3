"""The glossary: every caller reads it, internal tools define, redefine and remove terms,
each change audited, idempotent by key, and reversible with `auditRollback`."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.common.changes import ChangeContext
from benefitgate.demo.glossary import TERMS, insert_glossary
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.audit_api import rollback
from tests.fixtures.factories import NOW

GLOSSARY = "{ glossary { key term definition example version } }"

SET = """
mutation Set($key: String!, $term: String!, $definition: String!, $example: String! = "",
             $idem: String!) {
  glossaryTermSet(key: $key, term: $term, definition: $definition, example: $example,
                  idempotencyKey: $idem, reason: "plain words") {
    __typename
    ... on GlossaryTermSet { term { key term definition version } auditEntryId replayed }
    ... on InvalidInputError { field }
    ... on Error { code message }
  }
}
"""

REMOVE = """
mutation Remove($key: String!, $idem: String!) {
  glossaryTermRemove(key: $key, idempotencyKey: $idem) {
    __typename
    ... on GlossaryTermRemoved { key auditEntryId replayed }
    ... on Error { code message }
  }
}
"""


def _set(key: str, definition: str, idem: str, term: str = "Tier") -> dict[str, Any]:
    return {"key": key, "term": term, "definition": definition, "idem": idem}


async def _glossary(api: Api, auth: str) -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = (await api.data(GLOSSARY, auth=auth))["glossary"]
    return terms


async def test_the_demo_terms_are_seeded_and_every_caller_reads_them_alphabetically(
    conn: asyncpg.Connection, api: Api
) -> None:
    async with conn.transaction():
        await insert_glossary(conn, ChangeContext("seed", "demo data", None, NOW))
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    partner = await api_key(conn, Role.PARTNER, await factories.partner(conn))
    for auth in (frontend_token(account_id), partner, await api_key(conn, Role.OPERATOR)):
        terms = await _glossary(api, auth)
        assert [t["key"] for t in terms] == sorted(
            (k for k, *_ in TERMS), key=lambda k: next(t for kk, t, *_ in TERMS if kk == k).lower()
        )
    keys = {t["key"] for t in terms}
    assert {"tier", "outcome", "limit", "grant", "grandfathering", "credit"} <= keys
    assert all(t["definition"] and t["version"] == 1 for t in terms)
    entries = await conn.fetchval(
        "select count(*) from audit_log where actor = 'seed' and action = 'glossary.term_set'"
    )
    assert entries == len(TERMS)


async def test_a_term_is_defined_redefined_and_removed_each_change_audited_once_per_key(
    conn: asyncpg.Connection, api: Api
) -> None:
    admin = await api_key(conn)
    first = (await api.data(SET, _set("tier", "A rung.", "k1"), auth=admin))["glossaryTermSet"]
    assert first["term"] == {"key": "tier", "term": "Tier", "definition": "A rung.", "version": 1}
    replay = (await api.data(SET, _set("tier", "A rung.", "k1"), auth=admin))["glossaryTermSet"]
    assert (replay["replayed"], replay["auditEntryId"]) == (True, first["auditEntryId"])
    reused = (await api.data(SET, _set("tier", "Other.", "k1"), auth=admin))["glossaryTermSet"]
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    same = (await api.data(SET, _set("tier", " A rung. ", "k2"), auth=admin))["glossaryTermSet"]
    assert (same["auditEntryId"], same["term"]["version"]) == (None, 1)  # trimmed: no change
    second = (await api.data(SET, _set("tier", "A step.", "k3"), auth=admin))["glossaryTermSet"]
    assert second["term"]["version"] == 2

    entries = await conn.fetch(
        "select action, before, after, reason from audit_log where target_kind = 'glossary_term'"
        " order by id"
    )
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("glossary.term_set", "plain words")
    ] * 2
    assert entries[1]["before"]["definition"] == "A rung."
    assert entries[1]["after"]["definition"] == "A step."

    removed = await api.data(REMOVE, {"key": "tier", "idem": "r1"}, auth=admin)
    assert removed["glossaryTermRemove"]["__typename"] == "GlossaryTermRemoved"
    assert await _glossary(api, admin) == []
    again = await api.data(REMOVE, {"key": "tier", "idem": "r2"}, auth=admin)
    assert again["glossaryTermRemove"]["code"] == "NOT_FOUND"


async def test_a_rollback_restores_the_earlier_definition_and_then_the_removed_term(
    conn: asyncpg.Connection, api: Api
) -> None:
    admin = await api_key(conn)
    await api.data(SET, _set("limit", "How much.", "k1", "Limit"), auth=admin)
    changed = await api.data(SET, _set("limit", "Too much.", "k2", "Limit"), auth=admin)
    undone = await rollback(api, admin, changed["glossaryTermSet"]["auditEntryId"], "u1")
    assert undone["entry"]["after"]["definition"] == "How much."
    assert [t["definition"] for t in await _glossary(api, admin)] == ["How much."]

    removed = await api.data(REMOVE, {"key": "limit", "idem": "r1"}, auth=admin)
    back = await rollback(api, admin, removed["glossaryTermRemove"]["auditEntryId"], "u2")
    assert back["__typename"] == "RolledBack"
    assert [t["definition"] for t in await _glossary(api, admin)] == ["How much."]


async def test_frontends_and_partners_cannot_change_it_and_bad_input_is_typed(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    partner = await api_key(conn, Role.PARTNER, await factories.partner(conn))
    for auth in (frontend_token(account_id), partner):
        refused = (await api.data(SET, _set("tier", "x", "k"), auth=auth))["glossaryTermSet"]
        assert refused["code"] == "FORBIDDEN"
    admin = await api_key(conn, Role.OPERATOR)
    cases = [
        (_set("Tier!", "x", "a"), "key"),
        (_set("", "x", "b"), "key"),
        (_set("tier", "   ", "c"), "definition"),
        (_set("tier", "\u200b", "c2"), "definition"),
        (_set("tier", " \u2060\ufeff\n", "c3"), "definition"),
        ({**_set("tier", "x", "c4"), "term": "\u200b\u200c"}, "term"),
        (_set("tier", "x" * 2001, "d"), "definition"),
        ({**_set("tier", "x", "e"), "term": ""}, "term"),
        ({**_set("tier", "x", "f"), "example": "y" * 1001}, "example"),
    ]
    for variables, field in cases:
        bad = (await api.data(SET, variables, auth=admin))["glossaryTermSet"]
        assert (bad["code"], bad["field"]) == ("INVALID_INPUT", field), variables
    assert await conn.fetchval("select count(*) from glossary_terms") == 0
    assert await conn.fetchval("select count(*) from audit_log") == 0


async def test_concurrent_first_definitions_of_one_key_leave_one_term_and_one_entry_each(
    conn: asyncpg.Connection, api: Api
) -> None:
    admin = await api_key(conn)
    results = await asyncio.gather(
        *(api.data(SET, _set("seat", f"Place {n}.", f"c{n}", "Seat"), auth=admin) for n in range(8))
    )
    assert all(r["glossaryTermSet"]["__typename"] == "GlossaryTermSet" for r in results)
    versions = sorted(r["glossaryTermSet"]["term"]["version"] for r in results)
    assert versions == list(range(1, 9))
    assert await conn.fetchval("select version from glossary_terms") == 8
    assert await conn.fetchval("select count(*) from audit_log") == 8
