"""The README's Python receiver, run as written against messages the service really sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg

from benefitgate.events import outbox as events
from tests.conftest import Api, api_key
from tests.fixtures.webhook_api import create_endpoint
from tests.fixtures.webhooks import Receiver, eventually

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    text = README.read_text()
    found = re.search(r"<!-- webhook-receiver-python -->\n```python\n(.*?)```", text, re.S)
    assert found is not None, "the README's Python receiver"
    return found.group(1)


async def test_the_readme_receiver_verifies_and_handles_real_deliveries(
    conn: asyncpg.Connection, hooks_api: Api
) -> None:
    key, receiver = await api_key(conn), Receiver()
    async with receiver.serving():
        created = await create_endpoint(hooks_api, key, receiver.url())
        await events.enqueue(conn, "milestone.reached", None, {"milestone": "first-100"})
        assert await eventually(lambda: len(receiver.received) == 1)

    seen: set[str] = set()
    processed: list[tuple[str, Any]] = []

    def already_seen(webhook_id: str) -> bool:
        known = webhook_id in seen
        seen.add(webhook_id)
        return known

    namespace: dict[str, Any] = {
        "SECRET": created["secret"],
        "already_seen": already_seen,
        "process": lambda type, data: processed.append((type, data)),
    }
    exec(compile(_snippet(), "README.md", "exec"), namespace)  # noqa: S102 (the README's own code)
    handle = namespace["handle"]
    got = receiver.received[0]

    assert handle(got.body, got.headers) == 204
    assert handle(got.body, got.headers) == 204  # a retry: not processed twice
    assert handle(got.body.replace(b"first-100", b"first-999"), got.headers) == 400
    assert [(t, d["payload"]) for t, d in processed] == [
        ("milestone.reached", {"milestone": "first-100"})
    ]
