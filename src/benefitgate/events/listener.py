"""Follows the outbox on one dedicated connection and hands new events to handlers.

NOTIFY only wakes the listener; the events themselves are read from the outbox with the
gap-free cursor, so nothing is lost to a dropped notification or a reconnect: the listener
resumes from its cursor. When committed events wait behind an older open transaction of
this database, the listener looks again within milliseconds, backing off; a timed poll
covers anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol
from uuid import UUID

import asyncpg

from benefitgate import db
from benefitgate.events import outbox as events
from benefitgate.events import readable, touch
from benefitgate.events.outbox import Cursor, NewEvents
from benefitgate.telemetry import metrics

__all__ = ["LISTENER_NAME", "OutboxListener"]

log = logging.getLogger(__name__)

EventHandler = Callable[[NewEvents], Awaitable[None]]
TouchHandler = Callable[[list[UUID] | None], None]  # accounts touched; None: all of them
StateHandler = Callable[[], Awaitable[None]]
# The event types the handlers need nothing of now.
SkippedTypes = Callable[[], Collection[str]]


class PositionWatcher(Protocol):
    """Told the primary's WAL position after each look (a read replica's freshness)."""

    def look_started(self) -> int: ...

    def heard(self, wal_position: int, since: int) -> None: ...


_BATCH = 500
LISTENER_NAME = "benefitgate outbox listener"  # its connection's application_name
_RETRY_FIRST = 0.005  # seconds before looking again at events held back, then doubling
_RETRY_MAX = 0.05


class OutboxListener:
    def __init__(
        self,
        dsn: str,
        on_events: EventHandler,
        *,
        poll_seconds: float = 1.0,
        on_touched: TouchHandler | None = None,
        on_down: StateHandler | None = None,
        on_back: StateHandler | None = None,
        watcher: PositionWatcher | None = None,
        skip: SkippedTypes | None = None,
    ) -> None:
        """`on_touched` hears `events.touch` notifications; `on_down` runs when the
        connection is lost (notifications may be missed from then on) and `on_back` when
        it is back, before the missed events are handed over; `watcher` is told each
        look's WAL position before its events are handed over; `skip`, asked before each
        look and again after it, names the types whose events are passed over, never
        reaching `on_events` (`outbox.read_new`; the handler is still called for a look
        that passed over events only, and the cursor moves past them): a look whose answer
        changed in between is made again, so events always reach the handler as `skip`
        stands when they would."""
        self._dsn = dsn
        self._on_events = on_events
        self._on_touched = on_touched
        self._on_down = on_down
        self._on_back = on_back
        self._watcher = watcher
        self._skip = skip or (lambda: ())
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._first: asyncpg.Connection | None = None  # the connection `start` made
        self._probe = readable.CAUTIOUS
        self.cursor: Cursor | None = None

    async def start(self) -> None:
        """Connect and fix the starting cursor before returning, so that anything derived
        after start-up (a cache filled by the first request) sees every later event."""
        conn = await self._connect()
        try:
            self.cursor = await events.tail_cursor(conn)
        except BaseException:
            await _close(conn)  # a start that fails leaves no connection open
            raise
        self._first = conn
        self._task = asyncio.create_task(self._run(conn), name="outbox-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # A task cancelled before it first ran never reached the `finally` that closes
        # its connection (a start that fails right after the listener's).
        if self._first is not None and not self._first.is_closed():
            await _close(self._first)
        self._first = None

    async def _connect(self) -> asyncpg.Connection:
        conn = await db.connect(self._dsn, LISTENER_NAME)
        try:
            # A lost connection wakes the follower at once, to reconnect and catch up.
            conn.add_termination_listener(self._notified)
            await conn.add_listener(events.CHANNEL, self._notified)
            if self._on_touched is not None:
                await conn.add_listener(touch.CHANNEL, self._touched)
        except BaseException:
            await _close(conn)  # each failed attempt would leave one more open
            raise
        return conn

    async def _run(self, conn: asyncpg.Connection | None) -> None:
        backoff = 0.1
        while True:
            try:
                if conn is None:
                    conn = await self._connect()
                    metrics.OUTBOX_LISTENER_RECONNECTS.inc()
                    backoff = 0.1
                    if self._on_back is not None:
                        await self._on_back()
                await self._follow(conn)
                conn = None
                await self._down()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A lost connection or a failing handler: log, back off, reconnect and
                # resume from the cursor.
                log.exception("outbox listener failed; reconnecting")
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                await self._down()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                conn = None

    async def _down(self) -> None:
        if self._on_down is not None:
            await self._on_down()

    async def _follow(self, conn: asyncpg.Connection) -> None:
        retry = _RETRY_FIRST
        try:
            while not conn.is_closed():
                held_back = await self._drain(conn)
                wait = self._poll_seconds
                # Events held back by an older open transaction become readable when it
                # ends, which may send no notification: look again soon, backing off.
                if held_back:
                    wait, retry = min(wait, retry), min(retry * 2, _RETRY_MAX)
                else:
                    retry = _RETRY_FIRST
                await self._wait_for_wake(wait)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _wait_for_wake(self, seconds: float) -> None:
        """Wait for a notification, at most `seconds`. Not `asyncio.wait_for`: on Python
        3.11 it drops a cancellation that arrives with the wake-up (a replica stopping while
        events flow), and the listener then never stopped."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def _touched(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        assert self._on_touched is not None
        try:
            accounts = touch.parse(payload)
        except ValueError:
            accounts = None  # not ours to read: assume the worst
        self._on_touched(accounts)

    async def _drain(self, conn: asyncpg.Connection) -> bool:
        """Hand over everything readable; whether more is held back."""
        assert self.cursor is not None
        while True:
            since = self._watcher.look_started() if self._watcher is not None else 0
            skip = self._skip()
            new = await events.read_new(conn, self.cursor, _BATCH, self._probe, skip)
            self._probe = new.probe
            if self._watcher is not None:
                self._watcher.heard(new.wal_position, since)
            if skip and set(skip) - set(self._skip()):
                continue  # a live subscriber joined meanwhile: read these events again
            if new.reached is None:
                return new.held_back
            await self._on_events(new)
            if skip and set(skip) - set(self._skip()):
                # A subscriber joined while the handler ran, before the hub moved past the
                # events passed over: hand the look over again, in full (handlers take an
                # event twice as once; the hub queues only what it had not).
                continue
            self.cursor = new.reached
            _observe_lag(new)
            if new.looked < _BATCH:
                return new.held_back


async def _close(conn: asyncpg.Connection) -> None:
    """Close a connection whose setup failed; one already lost is simply dropped."""
    try:
        await conn.close(timeout=1)
    except Exception:
        conn.terminate()


def _observe_lag(new: NewEvents) -> None:
    """From each transaction's start (its events' `created_at`) to their hand-over, once
    per transaction: ingest writes an event per account of a batch, and observing each
    took 2 % of a busy service's CPU."""
    now = time.time()
    for started in {event.created_at for event in new.events}:
        metrics.OUTBOX_LISTENER_LAG_SECONDS.observe(max(0.0, now - started.timestamp()))
    metrics.OUTBOX_EVENTS.inc(len(new.events))
