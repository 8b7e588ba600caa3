"""The schema's steps of an operation run as one strawberry extension: strawberry asks
every extension for every hook on every request, through context managers it builds anew
(36 `get_hook` calls a request with the nine extensions the schema had)."""

from __future__ import annotations

import asyncpg
import pytest
from strawberry.extensions.context import ExtensionContextManagerBase

from benefitgate.auth.principals import Role
from tests.conftest import MakeApi, api_key


async def test_a_request_asks_for_the_hooks_of_one_extension(
    conn: asyncpg.Connection, make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await api_key(conn, Role.ADMIN)
    asked: list[str] = []
    get_hook = ExtensionContextManagerBase.get_hook

    def counted(self: ExtensionContextManagerBase, extension: object) -> object:
        asked.append(self.HOOK_NAME)
        return get_hook(self, extension)  # type: ignore[arg-type]

    monkeypatch.setattr(ExtensionContextManagerBase, "get_hook", counted)
    async with make_api() as api:
        answered = await api.post("{ tiers { key } }", auth=admin)
    assert answered.status_code == 200 and "errors" not in answered.json()
    assert sorted(asked) == ["on_execute", "on_operation", "on_parse", "on_validate"]
