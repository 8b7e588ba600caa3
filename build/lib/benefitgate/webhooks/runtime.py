"""A process's webhook machinery, built in the app's lifespan: one pooled HTTP client, the
sender, the sealing key and the dispatcher."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import aiohttp
import asyncpg

from benefitgate.clock import Clock
from benefitgate.config import Settings, local_secret
from benefitgate.webhooks.delivery import Sender
from benefitgate.webhooks.dispatcher import Dispatcher, DispatchSettings
from benefitgate.webhooks.service import Webhooks
from benefitgate.webhooks.signing import SecretBox
from benefitgate.webhooks.urls import PublicOnlyResolver

__all__ = ["WebhookRuntime"]


class WebhookRuntime:
    """Build it in a running event loop (the HTTP session belongs to one)."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock, settings: Settings) -> None:
        timeout = settings.webhook_timeout_seconds
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(
                limit=settings.webhook_concurrency,
                resolver=PublicOnlyResolver(settings.webhook_allow_hosts, settings.dev_mode),
                use_dns_cache=False,  # each connection's addresses are checked as resolved
            ),
            headers={"user-agent": "benefitgate-webhooks"},
        )
        box = SecretBox(settings.webhook_key or local_secret(settings.data_dir, "webhook_key"))
        sender = Sender(self._session, settings.webhook_allow_hosts, settings.dev_mode)
        self.dispatcher = Dispatcher(
            pool,
            clock,
            sender,
            box,
            DispatchSettings(
                owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
                retry_base=timedelta(seconds=settings.webhook_retry_seconds),
                # A lease outlives the longest send, and is renewed with every attempt.
                lease=timedelta(seconds=3 * timeout + 1),
                capacity=settings.webhook_concurrency,
            ),
        )
        self.hooks = Webhooks(
            box, sender, settings.webhook_allow_hosts, settings.dev_mode, self.dispatcher.wake
        )

    async def close(self) -> None:
        await self._session.close()
