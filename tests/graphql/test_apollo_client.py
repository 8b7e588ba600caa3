"""The README's Apollo Client example, run as written by Node with `@apollo/client` against
the service: with the generated `possibleTypes`, typed errors keep their fields; without
them, Apollo's cache drops `... on Error` and the example would show no code."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg

from tests.conftest import ServeLive, frontend_token
from tests.fixtures import factories
from tests.fixtures.node import run_node, tools_folder

ROOT = Path(__file__).resolve().parents[2]


def _snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- apollo-client-js -->\n```js\n(.*?)```", readme, re.S)
    assert found is not None, "the README's Apollo Client example"
    return found.group(1)


async def _run(code: str, port: int, token: str, account: str, tmp: Path) -> dict[str, Any]:
    shutil.copy(ROOT / "possible-types.json", tools_folder() / "possible-types.json")
    script = tmp / "apollo_example.mjs"
    script.write_text(code)
    env = {
        "BENEFITGATE_URL": f"http://127.0.0.1:{port}/graphql",
        "BENEFITGATE_TOKEN": token,
        "ACCOUNT_ID": account,
    }
    printed: dict[str, Any] = json.loads(await run_node(script, env=env))
    return printed


async def test_the_readmes_apollo_client_keeps_typed_errors_with_possible_types(
    conn: asyncpg.Connection, serve_live: ServeLive, tmp_path: Path
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    mine, stranger = str(account_id), frontend_token(uuid4())  # a token for another account
    code = _snippet()
    without = code.replace("new InMemoryCache({ possibleTypes })", "new InMemoryCache()")
    assert without != code
    async with serve_live() as port:
        own = await _run(code, port, frontend_token(account_id), mine, tmp_path)
        missing = await _run(code, port, stranger, mine, tmp_path)
        dropped = await _run(without, port, stranger, mine, tmp_path)

    assert own["__typename"] == "Account" and own["id"] == mine and own["name"]
    assert missing["__typename"] == "NotFoundError"
    assert missing["code"] == "NOT_FOUND" and missing["message"]
    # What the README warns of: the same query, without possibleTypes, loses the fields.
    assert dropped["__typename"] == "NotFoundError" and "code" not in dropped
