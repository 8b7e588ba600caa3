"""The delivery loop every replica runs: lease the endpoints that have events waiting,
and send each one's events in cursor order.

An endpoint is leased with `FOR UPDATE SKIP LOCKED` and a lease time, so one replica at a
time sends to it: no double send in normal operation. The lease is renewed with every
attempt, which is logged together with the endpoint's progress in one statement; a
replica that lost its lease stops. If a replica dies mid-send, its lease runs out and
another replica (or the restarted one) resumes from the endpoint's cursor: the event in
flight is sent again, with the same `webhook-id`, so receivers can drop the copy.

Each endpoint is served by a task of its own, so a slow or dead endpoint holds only its
own task. The outbox listener wakes the loop when events commit; a timed poll finds
retries that came due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

import asyncpg

from benefitgate.clock import Clock
from benefitgate.common.changes import ChangeContext
from benefitgate.events import outbox, readable
from benefitgate.events.outbox import Event, EventScope, other_partners_link, own_unlink_of
from benefitgate.telemetry import metrics
from benefitgate.webhooks import repository
from benefitgate.webhooks.delivery import FAILING_LIMIT, Result, Sender, message_of, retry_delay
from benefitgate.webhooks.models import Attempt, Endpoint
from benefitgate.webhooks.repository import Lease
from benefitgate.webhooks.service import disable, signing_secrets
from benefitgate.webhooks.signing import SecretBox

__all__ = ["DispatchSettings", "Dispatcher"]

log = logging.getLogger(__name__)

_PAGE = 100  # events read at a time for one endpoint
ACTOR = "webhooks"  # who disables a failing endpoint, in the audit log
_POSTPONE = timedelta(minutes=1)  # an endpoint this replica failed to serve waits this long
_EVERYTHING = EventScope(everything=True)  # each event is then checked for the endpoint


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    owner: str  # this replica's name in leases
    retry_base: timedelta  # the first retry's delay, before jitter
    lease: timedelta  # longer than the longest send (the HTTP timeout)
    capacity: int = 200  # endpoints served at once by this replica
    poll_seconds: float = 1.0  # between looks for retries that came due


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        sender: Sender,
        box: SecretBox,
        settings: DispatchSettings,
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._sender = sender
        self._box = box
        self._settings = settings
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._wake = asyncio.Event()
        self._active: dict[UUID, asyncio.Task[None]] = {}
        self._probe = readable.CAUTIOUS  # how far the outbox may be read; each claim renews it

    def wake(self) -> None:
        """Look for work now: events committed, or an endpoint changed."""
        self._wake.set()

    async def run(self) -> None:
        """Serve endpoints until cancelled; a failed round is logged and retried."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self._fill()
                # Any failure: a connection the server ended under the pool surfaces as
                # asyncpg's InterfaceError or InternalClientError (or worse), not as a
                # PostgresError, and escaping it ended this loop, and with it every webhook
                # of this replica, without a word.
                except Exception:
                    log.exception("webhook dispatch failed; retrying")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.poll_seconds):
                        await self._wake.wait()
        finally:
            await self._stop_serving()

    async def _fill(self) -> None:
        room = self._settings.capacity - len(self._active)
        if room <= 0:
            return
        now = self._clock.now()
        async with self._pool.acquire() as conn:
            claimed, self._probe = await repository.claim_due(
                conn, now, self._lease(now), room, list(self._active), self._probe
            )
        for endpoint in claimed:
            task = asyncio.create_task(self._serve(endpoint), name=f"webhook-{endpoint.id}")
            self._active[endpoint.id] = task
            task.add_done_callback(partial(self._finished, endpoint.id))

    def _finished(self, endpoint_id: UUID, _: asyncio.Task[None]) -> None:
        self._active.pop(endpoint_id, None)
        self._wake.set()  # room for another endpoint, and this one may have more

    async def _stop_serving(self) -> None:
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _postpone(self, endpoint: Endpoint) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            async with self._pool.acquire() as conn:
                until = self._clock.now() + _POSTPONE
                await repository.postpone(conn, endpoint.id, self._settings.owner, until)

    def _lease(self, now: datetime) -> Lease:
        return Lease(self._settings.owner, now + self._settings.lease)

    async def _serve(self, endpoint: Endpoint) -> None:
        """Send the endpoint's waiting events in order until none is left, one fails, or
        the lease is lost; then release the lease."""
        try:
            await self._send_waiting(endpoint)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Whatever went wrong, this replica does not take the endpoint again at once
            # (a loop of claims); another replica, or this one later, resumes it.
            log.exception("webhook endpoint %s: delivery interrupted", endpoint.id)
            await self._postpone(endpoint)
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                async with self._pool.acquire() as conn:
                    await repository.release(conn, endpoint.id, self._settings.owner)

    async def _send_waiting(self, endpoint: Endpoint) -> None:
        cursor = endpoint.cursor
        while True:
            async with self._pool.acquire() as conn:
                page = await outbox.read_feed(conn, cursor, _PAGE, _EVERYTHING, self._probe)
                signing = await signing_secrets(conn, self._box, endpoint.id, self._clock.now())
            if signing is None:
                log.error(
                    "webhook endpoint %s: its secret does not open with this key", endpoint.id
                )
                await self._postpone(endpoint)
                return
            if not page:
                return
            for event in page:
                if not (endpoint.wants(event) and await self._may_see(endpoint, event)):
                    continue  # passed over: the cursor moves past it with the page
                if not await self._deliver(endpoint, event, signing):
                    return
                endpoint = endpoint.after_success()
            async with self._pool.acquire() as conn:
                lease = self._lease(self._clock.now())
                if not await repository.advance(conn, endpoint, lease, page[-1].cursor):
                    return
            cursor = page[-1].cursor
            if len(page) < _PAGE:
                return

    async def _may_see(self, endpoint: Endpoint, event: Event) -> bool:
        """Whether the endpoint's owner may see the event as it is sent: a partner, only
        while it manages the event's account (read now, so an unlink stops it at once), and
        never another partner's link to it, but the end of its own link."""
        if endpoint.partner_id is None:
            return True
        assert event.account_id is not None  # `wants` passes no global event to a partner
        if own_unlink_of(event) == endpoint.partner_id:
            return True
        if other_partners_link(event, endpoint.partner_id):
            return False
        async with self._pool.acquire() as conn:
            return await repository.manages(conn, endpoint.partner_id, event.account_id)

    async def _deliver(self, endpoint: Endpoint, event: Event, signing: list[str]) -> bool:
        """Send one event and record the attempt; whether to go on to the next event."""
        at = self._clock.now()
        message = message_of(event)
        result = await self._sender.send(endpoint.url, message, signing, at)
        metrics.WEBHOOK_DELIVERIES.labels("success" if result.succeeded else "failure").inc()
        metrics.WEBHOOK_DELIVERY_SECONDS.observe(result.latency_ms / 1000)
        attempt = Attempt(
            id=0,
            endpoint_id=endpoint.id,
            event_id=event.id,
            webhook_id=message.webhook_id,
            event_type=event.type,
            attempted_at=at,
            succeeded=result.succeeded,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
        lease = self._lease(self._clock.now())
        if result.succeeded:  # one statement: logged and moved on together, or neither
            async with self._pool.acquire() as conn:
                moved = await repository.record_attempt(
                    conn, endpoint, attempt, lease, event.cursor, None
                )
                if not moved:  # changed meanwhile (replayed, disabled, its URL): re-read it
                    await repository.log_attempt(conn, attempt)
                return moved
        delay = retry_delay(endpoint.attempts + 1, self._settings.retry_base, self._rng)
        async with self._pool.acquire() as conn, conn.transaction():
            kept = await repository.record_attempt(conn, endpoint, attempt, lease, None, delay)
            reason = _disable_reason(endpoint, result, at)
            if not kept:
                await repository.log_attempt(conn, attempt)
            elif reason is not None:
                await disable(conn, endpoint, reason, ChangeContext(ACTOR, reason, None, at))
        return False


def _disable_reason(endpoint: Endpoint, result: Result, at: datetime) -> str | None:
    if result.gone:
        return "the receiver answered 410 Gone"
    failing_since = endpoint.failing_since or at
    if at - failing_since >= FAILING_LIMIT:
        return f"failing since {failing_since.isoformat()}"
    return None
