import asyncio
from typing import Any

import asyncpg

from benefitgate.events import outbox as events
from tests.conftest import Api, api_key
from tests.fixtures import factories

TIERS = """{ tiers { key rank monthlyPrice { amountCents } support { firstResponseHours channels }
  limits { metric { key } enforcement included unlimited }
  benefits { benefit { key kind impact { amount unit } outcome { key } } }
  exclusions { benefit { key } includedIn { key } note } } }"""


async def test_the_ladder_lists_tiers_by_rank_with_their_terms(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn, benefits=3)

    data = await api.data(TIERS, auth=await api_key(conn))

    basic, pro = data["tiers"]
    assert [basic["key"], pro["key"]] == ["basic", "pro"]
    assert basic["exclusions"] == [
        {"benefit": {"key": "b2"}, "includedIn": {"key": "pro"}, "note": "pro only"}
    ]
    assert pro["benefits"][0]["benefit"]["impact"] == {"amount": 2.0, "unit": "hours a week"}
    assert basic["limits"][0] == {
        "metric": {"key": "m0"},
        "enforcement": "HARD",
        "included": 100.0,
        "unlimited": False,
    }


async def test_benefits_filter_by_kind_outcome_and_tier(conn: asyncpg.Connection, api: Api) -> None:
    await factories.catalog(conn, benefits=3)
    key = await api_key(conn)

    async def keys(flt: str) -> list[str]:
        data: dict[str, Any] = await api.data(f"{{ benefits(filter: {flt}) {{ key }} }}", auth=key)
        return [b["key"] for b in data["benefits"]]

    assert await keys('{tier: "basic"}') == ["b0"]
    assert await keys('{kind: FEATURE, outcome: "hours_saved"}') == ["b0", "b1", "b2"]
    assert await keys("{kind: CREDIT}") == []
    assert await keys('{tier: "nope"}') == []


async def test_an_unknown_tier_is_not_found(conn: asyncpg.Connection, api: Api) -> None:
    data = await api.data(
        '{ tier(key: "gold") { ... on NotFoundError { code } } }', auth=await api_key(conn)
    )

    assert data["tier"] == {"code": "NOT_FOUND"}


async def test_the_cached_catalog_is_refreshed_when_a_catalog_event_commits(
    conn: asyncpg.Connection, api: Api
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn)
    query = "{ benefits { key } }"
    before = await api.data(query, auth=key)

    await conn.execute(
        """insert into benefits (key, name, kind, introduced_on)
           values ('new', 'New', 'education', '2026-01-01')"""
    )
    still_cached = await api.data(query, auth=key)
    async with conn.transaction():
        await events.enqueue(conn, "catalog.published", None, {})

    for _ in range(100):
        after = await api.data(query, auth=key)
        if "new" in [b["key"] for b in after["benefits"]]:
            break
        await asyncio.sleep(0.02)

    assert still_cached == before  # served from the in-process cache
    assert [b["key"] for b in after["benefits"]] == ["b0", "b1", "b2", "new"]
