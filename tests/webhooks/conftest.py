"""Fixtures of the webhook tests: the app on the wall clock (receivers verify signature
timestamps against real time), allowed to send to loopback receivers, retrying fast."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from benefitgate.clock import SystemClock
from tests.conftest import Api, MakeApi
from tests.fixtures.webhooks import WEBHOOK_SETTINGS


@pytest.fixture
def make_hooks_api(make_api: MakeApi) -> MakeApi:
    """`make_api` with webhook settings, on the wall clock unless given `clock=`."""

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Api]:
        overrides.setdefault("clock", SystemClock())
        return make_api(**{**WEBHOOK_SETTINGS, **overrides})

    return start


@pytest.fixture
async def hooks_api(make_hooks_api: MakeApi) -> AsyncIterator[Api]:
    async with make_hooks_api() as api:
        yield api
