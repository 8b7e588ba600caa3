"""`tierVersionDiff` end to end: any caller for published versions, internal tools for
drafts."""

from __future__ import annotations

import asyncpg

from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.catalog_api import basic_v2, publish

DIFF = """
query Diff($from: ID!, $to: ID!) { tierVersionDiff(from: $from, to: $to) {
  __typename
  ... on TierVersionDiff {
    fromVersion { version status } toVersion { version status tier { versionId } } unchanged
    benefitsAdded { benefit { key } } benefitsRemoved { benefit { key } }
    benefitsChanged { benefit { key } before after }
    limitsAdded { metric { key } } limitsRemoved { metric { key } }
    limitsChanged { metric { key } before { enforcement included } after { enforcement included } }
    exclusionsAdded { benefit { key } } exclusionsRemoved { benefit { key } includedIn { key } }
    monthlyPrice { before { amountCents } after { amountCents currency } }
    annualPrice { before { amountCents } after { amountCents } }
    support { before { name } after { name } }
  }
  ... on Error { code }
} }
"""


async def test_the_diff_of_two_versions_lists_what_changed(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn)
    v1 = str(cat["versions"]["basic"])
    draft = await basic_v2(
        api,
        key,
        benefits=[{"benefit": "b0", "parameters": {"seats": 5}}, {"benefit": "b1"}],
        exclusions=[],
        limits=[{"metric": "m0", "enforcement": "SOFT", "included": 200}],
    )
    v2 = draft["tierVersion"]["id"]
    token = frontend_token(account_id)

    hidden = await api.data(DIFF, {"from": v1, "to": v2}, auth=token)
    assert hidden["tierVersionDiff"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
    internal = (await api.data(DIFF, {"from": v1, "to": v2}, auth=key))["tierVersionDiff"]
    assert internal["toVersion"]["status"] == "DRAFT"
    await publish(api, key, v2, None)
    diff = (await api.data(DIFF, {"from": v1, "to": v2}, auth=token))["tierVersionDiff"]

    assert diff["fromVersion"] == {"version": 1, "status": "SUPERSEDED"}
    assert diff["toVersion"] == {"version": 2, "status": "IN_FORCE", "tier": {"versionId": v2}}
    assert diff["unchanged"] is False
    assert diff["benefitsAdded"] == [{"benefit": {"key": "b1"}}]
    assert diff["benefitsRemoved"] == []
    assert diff["benefitsChanged"] == [
        {"benefit": {"key": "b0"}, "before": {}, "after": {"seats": 5}}
    ]
    assert diff["limitsAdded"] == []
    assert diff["limitsRemoved"] == [{"metric": {"key": "m1"}}]
    assert diff["limitsChanged"] == [
        {
            "metric": {"key": "m0"},
            "before": {"enforcement": "HARD", "included": 100.0},
            "after": {"enforcement": "SOFT", "included": 200.0},
        }
    ]
    assert diff["exclusionsAdded"] == []
    assert diff["exclusionsRemoved"] == [{"benefit": {"key": "b2"}, "includedIn": {"key": "pro"}}]
    assert diff["monthlyPrice"] == {
        "before": {"amountCents": 1000},
        "after": {"amountCents": 1500, "currency": "USD"},
    }
    assert diff["annualPrice"] == {
        "before": {"amountCents": 10000},
        "after": {"amountCents": 15000},
    }
    assert diff["support"] is None
    back = (await api.data(DIFF, {"from": v2, "to": v1}, auth=token))["tierVersionDiff"]
    assert back["benefitsRemoved"] == [{"benefit": {"key": "b1"}}]
    same = (await api.data(DIFF, {"from": v1, "to": v1}, auth=token))["tierVersionDiff"]
    assert same["unchanged"] is True


async def test_unknown_versions_are_not_found(conn: asyncpg.Connection, api: Api) -> None:
    cat = await factories.catalog(conn)
    key = await api_key(conn)
    v1 = str(cat["versions"]["basic"])
    for other in ("999999", "nope", "-1", "²", "0", str(2**63)):
        found = await api.data(DIFF, {"from": v1, "to": other}, auth=key)
        assert found["tierVersionDiff"]["code"] == "NOT_FOUND"
