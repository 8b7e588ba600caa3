"""The fuzz suites' server, started once for the package: seeding the demo data and
starting a process is a few seconds, the suites' cases are milliseconds each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import JWT_SECRET
from tests.fixtures.database import ServerDatabases
from tests.fixtures.fuzz import Target, fuzz_target


@pytest.fixture(scope="package")
async def target(
    databases: ServerDatabases, template: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    async with fuzz_target(databases, template, JWT_SECRET, tmp_path_factory.mktemp("fuzz")) as t:
        yield t
