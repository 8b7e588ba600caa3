"""Fixtures of the webhook tests: the app on the wall clock (receivers verify signature
timestamps against real time), allowed to send to loopback receivers, retrying fast."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from benefitgate.app import create_app
from benefitgate.clock import Clock, SystemClock
from benefitgate.config import Settings
from tests.conftest import Api, MakeApi

WEBHOOK_KEY = "test-webhook-sealing-key"


def webhook_settings(settings: Settings, **overrides: Any) -> Settings:
    return replace(
        settings,
        webhook_key=WEBHOOK_KEY,
        webhook_allow_hosts=frozenset({"127.0.0.1"}),
        webhook_retry_seconds=0.05,
        webhook_timeout_seconds=1.0,
        **overrides,
    )


@pytest.fixture
def make_hooks_api(dsn: str, settings: Settings) -> MakeApi:
    @contextlib.asynccontextmanager
    async def start(clock: Clock | None = None, **overrides: Any) -> AsyncIterator[Api]:
        app = create_app(webhook_settings(settings, **overrides), dsn, clock=clock or SystemClock())
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Api(client)

    return start


@pytest.fixture
async def hooks_api(make_hooks_api: MakeApi) -> AsyncIterator[Api]:
    async with make_hooks_api() as api:
        yield api
