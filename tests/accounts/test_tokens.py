"""Frontend tokens as the README says a vendor's backend mints them, and as the CLI does:
the service accepts both for the account they name, and no other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

from benefitgate.clock import SystemClock
from tests.conftest import JWT_SECRET, MakeApi
from tests.fixtures import factories

README = Path(__file__).resolve().parents[2] / "README.md"
VIEW = """query($id: ID!) { account(id: $id) { __typename ... on Account { id } } }"""


def _readme_minter() -> Any:
    text = README.read_text()
    found = re.search(r"<!-- frontend-token-python -->\n```python\n(.*?)```", text, re.S)
    assert found is not None, "the README's token snippet"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "README.md", "exec"), namespace)  # noqa: S102 (the README's own)
    return namespace["frontend_token"]


def _cli_token(account: str) -> str:
    command = Path(sys.executable).parent / "benefitgate"
    env = {**os.environ, "BENEFITGATE_JWT_SECRET": JWT_SECRET}
    out = subprocess.run(  # noqa: S603 (the project's own CLI)
        [str(command), "tokens", "mint", "--account", account, "--subject", "u1", "--ttl", "600"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return out.stdout.strip()


async def test_tokens_from_the_readme_and_the_cli_open_their_account_only(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    mine, other = [str(await factories.account(conn, cat["versions"]["basic"])) for _ in "ab"]
    async with make_api(clock=SystemClock()) as api:
        for token in (_readme_minter()(JWT_SECRET, mine, "user-7"), _cli_token(mine)):
            own = await api.data(VIEW, {"id": mine}, auth=token)
            foreign = await api.data(VIEW, {"id": other}, auth=token)
            assert own["account"] == {"__typename": "Account", "id": mine}
            assert foreign["account"]["__typename"] == "NotFoundError"


def test_the_cli_refuses_to_mint_a_token_the_service_would_refuse() -> None:
    command = Path(sys.executable).parent / "benefitgate"
    env = {**os.environ, "BENEFITGATE_JWT_SECRET": JWT_SECRET}
    account = "00000000-0000-4000-8000-000000000001"
    for subject in ("key:3", "x" * 1000):
        out = subprocess.run(  # noqa: S603 (the project's own CLI)
            [str(command), "tokens", "mint", "--account", account, "--subject", subject],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert out.returncode == 1 and out.stdout == "", out
        assert out.stderr.startswith("benefitgate tokens mint: the service refuses"), out.stderr
