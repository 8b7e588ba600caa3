"""Apollo Client's persisted query link against the service, run by Node: its automatic
persisted queries recover from PERSISTED_QUERY_NOT_FOUND by sending the text, and a
frontend held to the manifest runs by the manifest's ids, found by operation name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from benefitgate.cli import main
from benefitgate.graphql.documents import document_id
from tests.conftest import ServeLive, api_key, frontend_token
from tests.fixtures.node import NODE_TOOLS, run_node

TIERS = "query Tiers {\n  tiers {\n    key\n  }\n}\n"


def _manifest(tmp_path: Path, document: str) -> Path:
    """A manifest built by the CLI from one .graphql file."""
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "document.graphql").write_text(document)
    manifest = tmp_path / "manifest.json"
    main(["documents", "build", str(tmp_path / "ops"), "--output", str(manifest)])
    return manifest


async def _apollo(port: int, credential: str, *mode: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/graphql"
    printed: dict[str, Any] = json.loads(
        await run_node(NODE_TOOLS / "persisted.mjs", url, credential, *mode)
    )
    return printed


@pytest.mark.parametrize(
    ("with_manifest", "first_answer"),
    [(False, (400, "PERSISTED_QUERY_NOT_SUPPORTED")), (True, (404, "PERSISTED_QUERY_NOT_FOUND"))],
)
async def test_apollos_automatic_persisted_queries_send_the_text_after_a_refused_id(
    serve_live: ServeLive,
    conn: asyncpg.Connection,
    tmp_path: Path,
    with_manifest: bool,
    first_answer: tuple[int, str],
) -> None:
    key = await api_key(conn)
    settings = {"documents": _manifest(tmp_path, "{ __typename }")} if with_manifest else {}
    async with serve_live(**settings) as port:
        ran = await _apollo(port, key, "apq")

    assert ran["data"] == {"tiers": []}
    first, second = ran["exchanges"]
    assert "query" not in first["request"]
    code = first["response"]["errors"][0]["extensions"]["code"]
    assert (first["status"], code) == first_answer
    assert second["request"]["query"] and second["status"] == 200


async def test_a_frontend_held_to_the_manifest_runs_by_its_ids_with_apollos_link(
    serve_live: ServeLive, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, TIERS)
    async with serve_live(documents=manifest) as port:
        ran = await _apollo(port, frontend_token(uuid4()), "manifest", str(manifest))

    assert ran["data"] == {"tiers": []}
    (only,) = ran["exchanges"]
    assert only["method"] == "GET" and "query" not in only["request"]
    sent = json.loads(only["request"]["extensions"])["persistedQuery"]["sha256Hash"]
    assert sent == document_id(TIERS) and only["status"] == 200
