"""Fixtures of the live-event tests: the app served over real sockets in this process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from benefitgate.app import create_app
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from tests.fixtures.live import serve_in_process

ServeLive = Callable[..., contextlib.AbstractAsyncContextManager[int]]


@pytest.fixture
def serve_live(dsn: str, settings: Settings, clock: FixedClock) -> ServeLive:
    """Serve the app over TCP in this process (settings overridable); yields the port."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[int]:
        app = create_app(replace(settings, **overrides), dsn, clock=clock)
        async with serve_in_process(app) as port:
            yield port

    return start


@pytest.fixture
async def live_port(serve_live: ServeLive) -> AsyncIterator[int]:
    async with serve_live() as port:
        yield port
