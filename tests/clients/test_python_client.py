"""clients/python, run as its own process against a live service: its example queries
(documents validated against the committed schema), retries a mutation with its
idempotency key, and follows the account's events across a replica's restart from the
last cursor, missing none and repeating none."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from benefitgate.events.outbox import START
from benefitgate_client import Benefitgate, StreamRefused
from benefitgate_client.client import load_schema
from graphql import GraphQLError
from tests.clients.conftest import (
    Scene,
    assert_every_event_once_and_the_retry_replayed,
    lines_of,
    through_a_restart,
)

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"


@contextlib.asynccontextmanager
async def _example(scene: Scene) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "PYTHONPATH": str(CLIENT),
        "BENEFITGATE_URL": scene.url,
        "BENEFITGATE_CREDENTIAL": scene.partner_key,
        "ACCOUNT_ID": str(scene.account),
        "AFTER": START.encode(),
        "UNTIL": "test.end",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(CLIENT / "example.py"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_example_queries_replays_a_mutation_and_resumes_events_after_a_restart(
    scene: Scene,
) -> None:
    printed = await through_a_restart(scene, lambda: _example(scene))

    (query,) = lines_of(printed, "query")
    assert query["result"]["__typename"] == "Account"
    assert query["result"]["tier"]["key"] == "basic"
    (m0,) = (u for u in query["result"]["usage"] if u["metric"]["key"] == "m0")
    assert m0["used"] == 40 and m0["remaining"] == 60
    await assert_every_event_once_and_the_retry_replayed(scene, printed)


async def test_typed_errors_arrive_as_results_and_bad_documents_never_leave(
    scene: Scene,
) -> None:
    async with scene.serving():
        client = Benefitgate(scene.url, scene.partner_key, load_schema(ROOT / "schema.graphql"))
        missing = await client.account_usage("00000000-0000-0000-0000-000000000000")
        assert missing["__typename"] == "NotFoundError" and missing["code"] == "NOT_FOUND"
        over = await client.consume(str(scene.account), "m0", 1000, "too-much")
        assert over["__typename"] == "QuotaExceeded" and over["quotaLimit"] == 100
        with pytest.raises(StreamRefused, match="NOT_FOUND"):
            async for _ in client.follow_events(["00000000-0000-0000-0000-000000000000"]):
                pass
        # With the schema, a document the service would refuse fails before it is sent.
        wrong = "query($id: ID!) { account(id: $id) { ... on Account { nosuch } } }"
        with pytest.raises(GraphQLError, match="nosuch"):
            await client.execute(wrong, {"id": str(scene.account)})
        right = "query($id: ID!) { account(id: $id) { ... on Account { name } } }"
        assert await client.execute(right, {"id": str(scene.account)}) == {
            "account": {"name": "Acme"}
        }
