"""Benefit catalog entries created and retired by internal tools: audited, versioned,
idempotent, validated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.clock import FixedClock
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.catalog_api import draft

CHANGED = """
    __typename
    ... on BenefitChanged { benefit { key name kind outcome { key } impact { amount unit }
                                      metric { key } introducedOn retiredOn version }
                            auditEntryId replayed }
    ... on VersionConflictError { currentVersion }
    ... on InvalidInputError { field }
    ... on Error { code message }
"""
CREATE = f"""
mutation Create($benefit: BenefitInput!, $key: String!) {{
  benefitCreate(benefit: $benefit, idempotencyKey: $key) {{ {CHANGED} }}
}}
"""
RETIRE = f"""
mutation Retire($key: String!, $version: Int!, $on: Date!, $idem: String!) {{
  benefitRetire(key: $key, expectedVersion: $version, retiredOn: $on, idempotencyKey: $idem,
                reason: "replaced") {{ {CHANGED} }}
}}
"""
SSO = {
    "key": "sso",
    "name": "Single sign-on",
    "kind": "GOVERNANCE",
    "outcome": "hours_saved",
    "impactAmount": 1.5,
    "impactUnit": "hours a week",
}


async def create(api: Api, key: str, benefit: dict[str, Any], idem: str = "c1") -> Any:
    return (await api.data(CREATE, {"benefit": benefit, "key": idem}, auth=key))["benefitCreate"]


async def retire(api: Api, key: str, benefit: str, version: int, on: str, idem: str) -> Any:
    variables = {"key": benefit, "version": version, "on": on, "idem": idem}
    return (await api.data(RETIRE, variables, auth=key))["benefitRetire"]


async def test_a_new_benefit_joins_the_catalog_with_its_audit_entry_and_event(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)

    created = await create(api, key, SSO)

    assert created["benefit"] == {
        "key": "sso",
        "name": "Single sign-on",
        "kind": "GOVERNANCE",
        "outcome": {"key": "hours_saved"},
        "impact": {"amount": 1.5, "unit": "hours a week"},
        "metric": None,
        "introducedOn": "2026-11-15",
        "retiredOn": None,
        "version": 1,
    }
    listed = await api.data("{ benefits { key } }", auth=key)
    assert [b["key"] for b in listed["benefits"]] == ["b0", "b1", "b2", "sso"]
    entry = await conn.fetchrow(
        "select action, target_kind, target_id, before, after from audit_log"
    )
    assert (entry["action"], entry["target_kind"], entry["target_id"]) == (
        "benefit.created",
        "benefit",
        "sso",
    )
    assert entry["before"] is None and entry["after"]["impactAmount"] == 1.5
    event = await conn.fetchrow("select type, account_id, payload from events")
    assert (event["type"], event["account_id"]) == ("catalog.benefit_created", None)
    assert event["payload"]["benefit"] == "sso"
    replay = await create(api, key, SSO)
    assert replay["replayed"] is True and replay["benefit"] == created["benefit"]
    taken = await create(api, key, {**SSO, "name": "Other"}, idem="c2")
    assert (taken["code"], taken["field"]) == ("INVALID_INPUT", "key")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "Not a key"}, "key"),
        ({"name": ""}, "name"),
        ({"outcome": "nope"}, "outcome"),
        ({"kind": "LIMIT"}, "metric"),
        ({"kind": "LIMIT", "metric": "nope"}, "metric"),
        ({"impactUnit": None}, "impactUnit"),
    ],
)
async def test_an_invalid_benefit_names_its_field_and_writes_nothing(
    conn: asyncpg.Connection, api: Api, change: dict[str, Any], field: str
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)

    result = await create(api, key, {**SSO, **change})

    assert (result["code"], result["field"]) == ("INVALID_INPUT", field)
    for table in ("audit_log", "events", "idempotency_keys"):
        assert await conn.fetchval(f"select count(*) from {table}") == 0  # noqa: S608
    assert await conn.fetchval("select count(*) from benefits") == 3


async def test_a_retired_benefit_leaves_the_catalog_on_its_date_and_no_new_version_adds_it(
    conn: asyncpg.Connection, api: Api, clock: FixedClock
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    past = await retire(api, key, "b1", 1, "2026-11-14", "r0")
    assert (past["code"], past["field"]) == ("INVALID_INPUT", "retiredOn")
    retired = await retire(api, key, "b1", 1, "2026-12-01", "r1")
    assert (retired["benefit"]["retiredOn"], retired["benefit"]["version"]) == ("2026-12-01", 2)
    stale = await retire(api, key, "b1", 1, "2026-12-02", "r2")
    assert (stale["code"], stale["currentVersion"]) == ("VERSION_CONFLICT", 2)
    moved = await retire(api, key, "b1", 2, "2026-11-20", "r3")
    assert moved["benefit"]["retiredOn"] == "2026-11-20"
    missing = await retire(api, key, "nope", 1, "2026-12-01", "r4")
    assert missing["code"] == "NOT_FOUND"

    clock.advance(timedelta(days=6))
    listed = await api.data("{ benefits { key } }", auth=key)
    assert [b["key"] for b in listed["benefits"]] == ["b0", "b2"]
    again = await retire(api, key, "b1", 3, "2026-12-24", "r5")
    assert (again["code"], again["field"]) == ("INVALID_INPUT", "key")
    # pro v1 includes b1 and keeps it; a new basic version may not add it.
    adding = await draft(api, key, {"tier": "basic", "basedOn": 1, "benefits": [{"benefit": "b1"}]})
    assert (adding["code"], adding["field"]) == ("INVALID_INPUT", "benefits[0].benefit")
    keeping = await draft(api, key, {"tier": "pro", "basedOn": 1}, idem="pro-v2")
    assert "b1" in [b["benefit"]["key"] for b in keeping["tierVersion"]["tier"]["benefits"]]
    actions = [r["action"] for r in await conn.fetch("select action from audit_log order by id")]
    assert actions == ["benefit.retired", "benefit.retired", "tier_version.drafted"]


async def test_benefit_changes_are_for_internal_tools_only(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    token = frontend_token(account_id)

    assert (await create(api, token, SSO))["code"] == "FORBIDDEN"
    assert (await retire(api, token, "b1", 1, "2026-12-01", "r"))["code"] == "FORBIDDEN"
    assert await conn.fetchval("select retired_on from benefits where key = 'b1'") is None
