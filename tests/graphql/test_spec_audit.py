"""The GraphQL over HTTP spec's own audit (graphql-http's `auditServer`, run by Node against
the service over TCP) passes with no warning and no error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from benefitgate.graphql.documents import Document, Manifest, document_id
from tests.conftest import ServeLive, api_key, frontend_token
from tests.fixtures.node import NODE_TOOLS, run_node


async def _audit(url: str, credential: str) -> list[dict[str, Any]]:
    report: list[dict[str, Any]] = json.loads(
        await run_node(NODE_TOOLS / "audit.mjs", url, credential)
    )
    return report


# The audit's variables checks query `__type(name: $name)`: a frontend, which may not
# introspect by default, is audited with introspection allowed.
ALL_ROLES = frozenset({"frontend", "partner", "operator", "admin"})
TIERS = "{ tiers { key } }"


@pytest.mark.parametrize("caller", ["admin key", "admin key, trusted documents", "frontend token"])
async def test_the_graphql_over_http_audit_passes_without_warnings(
    serve_live: ServeLive, conn: asyncpg.Connection, caller: str, tmp_path: Path
) -> None:
    settings: dict[str, object] = {}
    if caller == "frontend token":
        credential = frontend_token(uuid4())
        settings["introspection_for"] = ALL_ROLES
    else:
        credential = await api_key(conn)
    if caller.endswith("trusted documents"):
        manifest = tmp_path / "manifest.json"
        manifest.write_text(Manifest([Document(document_id(TIERS), "T", "query", TIERS)]).as_json())
        settings["documents"] = manifest
    async with serve_live(**settings) as port:
        report = await _audit(f"http://127.0.0.1:{port}/graphql", credential)

    print(f"graphql-http audit as {caller}: {len(report)} audits,", {
        s: sum(r["status"] == s for r in report) for s in ("ok", "notice", "warn", "error")
    })  # fmt: skip
    for notice in (r for r in report if r["status"] == "notice"):
        print("notice:", notice["name"], "-", notice["reason"])
    assert len(report) > 50  # the whole audit ran
    failing = [r for r in report if r["status"] in ("warn", "error")]
    assert failing == [], json.dumps(failing, indent=2)
