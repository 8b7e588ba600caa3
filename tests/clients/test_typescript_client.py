"""clients/typescript, built and run by Node against a live service: GraphQL Code
Generator makes its typed documents and Apollo Client's possibleTypes from the committed
schema (the same possibleTypes as `benefitgate export-possible-types`), it compiles under
`tsc --strict`, and its example queries, retries a mutation with its idempotency key, and
follows the account's events across a replica's restart from the last cursor, missing
none and repeating none. Skipped, saying why, without Node."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from benefitgate.events.outbox import START
from tests.clients.conftest import (
    Scene,
    assert_every_event_once_and_the_retry_replayed,
    lines_of,
    through_a_restart,
)
from tests.fixtures.node import installed

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
FOLDER = ROOT / ".cache" / "client-ts"  # `make node-tools` installs there too


async def _run(folder: Path, *command: str) -> str:
    done = await asyncio.create_subprocess_exec(
        *command, cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(done.communicate(), 300)
    assert done.returncode == 0, out.decode()
    return out.decode()


async def _built_folder() -> Path:
    """The client's sources beside its installed packages, built as `npm run build` does:
    codegen from the committed schema, then `tsc --strict`."""
    folder = installed(CLIENT, FOLDER)
    for made in ("src", "dist"):
        shutil.rmtree(folder / made, ignore_errors=True)
    shutil.copytree(CLIENT / "src", folder / "src", ignore=shutil.ignore_patterns("generated"))
    shutil.copy(CLIENT / "tsconfig.json", folder / "tsconfig.json")
    config = (CLIENT / "codegen.yml").read_text()
    schema = f"schema: {ROOT / 'schema.graphql'}"
    (folder / "codegen.yml").write_text(config.replace("schema: ../../schema.graphql", schema))
    codegen = "node_modules/@graphql-codegen/cli/cjs/bin.js"
    await _run(folder, "node", codegen, "--config", "codegen.yml")
    await _run(folder, "node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.json")
    return folder


async def test_the_client_builds_with_the_schemas_possible_types() -> None:
    folder = await _built_folder()
    generated = json.loads((folder / "src/generated/possible-types.json").read_text())
    exported = json.loads((ROOT / "possible-types.json").read_text())
    assert generated == {"possibleTypes": exported}
    typed = (folder / "src/generated/graphql.ts").read_text()
    for operation in ("AccountUsage", "UsageConsume", "AccountEvents"):
        assert f"export const {operation}Document" in typed


@contextlib.asynccontextmanager
async def _example(scene: Scene, folder: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "BENEFITGATE_URL": scene.url,
        "BENEFITGATE_CREDENTIAL": scene.partner_key,
        "ACCOUNT_ID": str(scene.account),
        "METRIC": "m0",
        "AFTER": START.encode(),
        "UNTIL": "test.end",
    }
    process = await asyncio.create_subprocess_exec(
        "node", "dist/example.js", cwd=folder, env=env,
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
    folder = await _built_folder()
    printed = await through_a_restart(scene, lambda: _example(scene, folder))

    (query,) = lines_of(printed, "query")
    assert query["name"] == "Acme" and query["tier"] == "basic"
    usage = {u["metric"]["key"]: u for u in query["usage"]}
    assert usage["m0"]["used"] == 40 and usage["m0"]["remaining"] == 60
    await assert_every_event_once_and_the_retry_replayed(scene, printed)
