"""The validation cache finds a document read before by the document itself, not by its
value: graphql-core's nodes are dataclasses that hash their whole tree, which cost a
large document's every request (about 80 us of the account view)."""

from __future__ import annotations

import asyncpg
import pytest
from graphql.language import ast

from benefitgate.auth.principals import Role
from benefitgate.graphql import validation
from tests.conftest import MakeApi, api_key

DOCUMENT = "query Tiers { tiers { key name benefits { benefit { key name } } } } # cache"


async def test_a_repeated_document_is_validated_once_and_never_hashed(
    conn: asyncpg.Connection, make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await api_key(conn, Role.ADMIN)
    cached = validation._cached_validation(True)
    hashed: list[ast.Node] = []
    node_hash = ast.DocumentNode.__hash__

    def counted(node: ast.DocumentNode) -> int:
        hashed.append(node)
        return node_hash(node)

    # Strawberry's own path: a view document it ran cleanly is answered in front of it.
    async with make_api(fast_queries=False) as api:
        first = await api.post(DOCUMENT, auth=admin)
        monkeypatch.setattr(ast.DocumentNode, "__hash__", counted)
        before = cached.cache_info()  # type: ignore[attr-defined]
        again = [await api.post(DOCUMENT, auth=admin) for _ in range(3)]
        after = cached.cache_info()  # type: ignore[attr-defined]
    assert after.hits - before.hits == 3 and after.misses == before.misses
    assert hashed == []
    assert all(r.json() == first.json() for r in again) and "errors" not in first.json()
