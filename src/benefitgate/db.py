"""Connections: the pool, the JSON and numeric codecs, and the embedded Postgres used when no
DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from benefitgate.telemetry import metrics

__all__ = [
    "MAX_BIGINT",
    "EmbeddedPostgres",
    "MeteredPool",
    "connect",
    "create_pool",
    "init_connection",
    "unavailable",
    "with_database",
]

MAX_BIGINT = 2**63 - 1  # the largest Postgres bigint, and so the largest id or jsonb integer

log = logging.getLogger(__name__)

ConnectionHook = Callable[[asyncpg.Connection], Awaitable[None]]


# The database could not be reached, or the connection died under a statement: a server
# restarting or failing over, a network cut, every connection slot taken. Nothing the
# request did wrong; the same request may succeed a moment later.
_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable, and TimeoutError (connecting)
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and a connection lost mid-statement
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by a shutdown
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed
    asyncpg.TooManyConnectionsError,  # 53300
)


def unavailable(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from or while handling, says the database
    is unavailable for now rather than that the statement or the data is wrong (a
    rollback failing on a dead connection raises its own error from the first). A write
    that failed so may still have committed: retries must carry their idempotency key
    (or, for usage, their event ids)."""
    for _ in range(8):  # a chain is short; a cycle must not hang us
        if exc is None:
            return False
        if _says_unavailable(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _says_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    message = str(exc)
    # asyncpg raises a plain InterfaceError for a connection closed under it, and for a
    # pool closing at shutdown; and, for a connection the server terminated while it was
    # idle, an InternalClientError "cannot switch to state N" (asyncpg issue #1069).
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in message or message.startswith("pool is closing")
    return isinstance(exc, asyncpg.InternalClientError) and "cannot switch to state" in message


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=_uuid_text).decode()


def _uuid_text(value: Any) -> str:
    """asyncpg reads uuids as a subclass of its own, which orjson (exact types only) does
    not encode."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


# numeric's binary form (Postgres's numeric_send/numeric_recv): a header of four int16
# (digit count, weight, sign, display scale), then base-10000 digits, most significant first.
_NUMERIC_HEADER = struct.Struct("!hhHH")
_NUMERIC_POS = 0x0000
_NUMERIC_NEG = 0x4000
_NUMERIC_NAN = 0xC000
_NUMERIC_PINF = 0xD000
_NUMERIC_NINF = 0xF000
_NUMERIC_MAX_DSCALE = 0x3FFF
_NUMERIC_SPECIAL = {
    _NUMERIC_NAN: Decimal("NaN"),
    _NUMERIC_PINF: Decimal("Infinity"),
    _NUMERIC_NINF: Decimal("-Infinity"),
}


def _numeric_encode(value: Any) -> bytes:
    """A value bound to a numeric, in numeric's binary form. A float is the decimal its
    shortest repr writes (0.1 is 0.1), not its exact binary expansion, which asyncpg's own
    encoder sends (0.1000000000000000055511151231257827..., 5e-324 as 751 digits): a limit
    of 0.3 then held 0.29999999999999998889..., and three consumptions of 0.1 did not fit
    in it. A Decimal, an int (and anything else Decimal takes) is sent exactly, as asyncpg
    does; the arithmetic mirrors its `numeric_encode_binary`."""
    if isinstance(value, float):
        value = Decimal(repr(value))  # nan, inf and -inf too: Decimal reads their repr
    elif not isinstance(value, Decimal):
        value = Decimal(value)
    sign, digits, exponent = value.as_tuple()
    if exponent == "n" or exponent == "N":
        return _NUMERIC_HEADER.pack(0, 0, _NUMERIC_NAN, 0)
    if exponent == "F":
        return _NUMERIC_HEADER.pack(0, 0, _NUMERIC_NINF if sign else _NUMERIC_PINF, 0)
    assert isinstance(exponent, int)
    if -exponent > _NUMERIC_MAX_DSCALE:
        raise ValueError("cannot encode Decimal value into numeric: exponent is too small")
    count = len(digits)
    dweight = count + exponent - 1  # the power of ten of the first digit
    weight = (dweight + 4) // 4 - 1 if dweight >= 0 else -((-dweight - 1) // 4 + 1)
    if weight > 0x7FFF:
        raise ValueError("cannot encode Decimal value into numeric: exponent is too large")
    padding = (weight + 1) * 4 - (dweight + 1)  # zeros before the first digit, to align
    groups = (count + padding + 3) // 4
    if groups > 0x7FFF:
        raise ValueError("cannot encode Decimal value into numeric: number of digits is too large")
    text = ("0" * padding + "".join(map(str, digits))).ljust(groups * 4, "0")
    header = _NUMERIC_HEADER.pack(
        groups, weight, _NUMERIC_NEG if sign else _NUMERIC_POS, max(-exponent, 0)
    )
    return header + struct.pack(
        f"!{groups}h", *(int(text[i : i + 4]) for i in range(0, groups * 4, 4))
    )


def _numeric_decode(data: bytes) -> Decimal:
    """A numeric in binary form, as the very Decimal asyncpg's own decoder makes of it
    (the same digits and exponent: `str` of it is the same text)."""
    groups, weight, sign, dscale = _NUMERIC_HEADER.unpack_from(data)
    special = _NUMERIC_SPECIAL.get(sign)
    if special is not None:
        return special
    if groups == 0:
        return Decimal(f"0e-{dscale}")
    text = ("%04d" * groups) % struct.unpack_from(f"!{groups}h", data, 8)
    if dscale:
        # Exactly dscale fractional digits: the last group may hold zeros beyond them,
        # and Postgres leaves out trailing groups of zeros.
        extra = dscale - (groups - weight - 1) * 4
        text = text + "0" * extra if extra > 0 else text[: len(text) + extra]
        exponent = -dscale
    else:
        exponent = (weight + 1 - groups) * 4
    return Decimal(f"{'-' if sign == _NUMERIC_NEG else ''}{text}E{exponent}")


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb travels as Python objects in both directions; numeric as Decimal, a float
    bound to one as the decimal its repr writes (`_numeric_encode`)."""
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")
    await conn.set_type_codec(
        "numeric",
        encoder=_numeric_encode,
        decoder=_numeric_decode,
        schema="pg_catalog",
        format="binary",
    )


def with_database(dsn: str, name: str) -> str:
    """The same server DSN, naming another database."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


# Every connection's session counts dates in UTC: a timestamptz cast to a date, truncated
# or shifted by months or years follows the session's time zone, which is the server's or
# the database's default otherwise (a day's bucket, a month's series or an anniversary
# would then fall on the server's local day).
SESSION = {"TimeZone": "UTC"}


async def connect(dsn: str, name: str | None = None) -> asyncpg.Connection:
    """A connection of its own (not pooled), named `name` in `pg_stat_activity`'s
    `application_name` when given, so that an operator can tell it from the pool's."""
    settings = SESSION if name is None else {**SESSION, "application_name": name}
    conn = await asyncpg.connect(dsn, server_settings=settings)
    try:
        await init_connection(conn)
    except BaseException:
        conn.terminate()  # the caller never gets it to close
        raise
    return conn


_STATEMENT_OK = metrics.DB_STATEMENT_SECONDS.labels("ok")
_STATEMENT_ERROR = metrics.DB_STATEMENT_SECONDS.labels("error")


def _statement_logged(query: Any) -> None:
    """asyncpg's query logger: called after each statement with its elapsed time."""
    (_STATEMENT_OK if query.exception is None else _STATEMENT_ERROR).observe(query.elapsed)


class MeteredPool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg has no type hints
    """A pool that hands its connections out in the order they were asked for, knows how
    many tasks wait for one, and times each wait (`_acquire` is what `acquire()` awaits,
    in every asyncpg release since 0.10), and that replaces its connections when one is
    found dead.

    In order: asyncpg's pool waits on an asyncio.Queue, where a connection put back wakes
    the first waiter but a task asking at that moment takes it first, and the woken waiter
    queues again at the back. With more requests than connections some waited again and
    again: at 64 connections to a pool of 10 the lean account view's p99 was 460 to 910 ms
    at a p50 of 19 to 71 ms. A turn is now taken first, from a semaphore of the pool's size,
    which serves its waiters in order and lets no newcomer past them."""

    # The longest `acquire()` without a timeout of its own waits for a connection (None:
    # for ever); then TimeoutError, which `unavailable` counts as the database being so.
    acquire_seconds: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = 0
        self._turns = asyncio.Semaphore(kwargs["max_size"])

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_seconds if timeout is None else timeout)

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's signature)
        started = time.perf_counter()
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout):
                await self._turns.acquire()
                try:
                    return await super()._acquire(None)
                except BaseException:
                    self._turns.release()
                    raise
        finally:
            self.waiting -= 1
            metrics.DB_POOL_ACQUIRE_SECONDS.observe(time.perf_counter() - started)

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's signature)
        # A connection that died under its statement (a restart, a failover) was opened
        # like its idle siblings, which are then most likely dead too: replace them all as
        # they are next acquired, rather than fail one request on each.
        # A proxy whose connection closed under it may already be detached from it.
        try:
            underlying = getattr(connection, "_con", None)
            if underlying is None or underlying.is_closed():
                await self.expire_connections()
            if self._settles_at_once(connection):
                # What `Pool.release` does, without the task it shields the holder's release
                # in: three turns of the event loop, on every request. Nothing here waits,
                # so there is nothing for a cancellation to interrupt.
                connection._con._on_release()
                holder = connection._holder
                await holder.release(holder._timeout if timeout is None else timeout)
            else:
                await super().release(connection, timeout=timeout)
        finally:
            self._turns.release()

    def _settles_at_once(self, connection: Any) -> bool:
        """Whether asyncpg's release of `connection` (`PoolConnectionHolder.release`, as of
        the version pinned in pyproject.toml) would finish without waiting: the connection
        is open, this pool's, of its current generation and under its query limit (else it
        is closed), with no transaction to roll back and no cancellation under way."""
        holder = getattr(connection, "_holder", None)
        underlying = getattr(connection, "_con", None)
        if (
            type(connection) is not PoolConnectionProxy
            or holder is None
            or holder._pool is not self
            or underlying is None
            or underlying.is_closed()
        ):
            return False
        protocol = underlying._protocol
        return bool(
            holder._generation == self._generation
            and protocol.queries_count < holder._max_queries
            and not protocol._is_cancelling()
            and not protocol.is_in_transaction()
            and underlying._top_xact is None
        )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    statement_seconds: float = 0,
    acquire_seconds: float = 0,
    on_connect: ConnectionHook | None = None,
) -> MeteredPool:
    """A pool whose statements Postgres cancels after `statement_seconds` (0: never): a
    statement that runs away, whatever its cause, ends as an error instead of holding its
    connection, its locks and its temporary files. A wait for a free connection ends after
    `acquire_seconds` (0: never), so that a request answers rather than queue for ever.
    Its statements and waits are timed into the metrics."""

    async def init(conn: asyncpg.Connection) -> None:
        await init_connection(conn)
        conn.add_query_logger(_statement_logged)
        if on_connect is not None:
            await on_connect(conn)

    settings = {**SESSION, "statement_timeout": str(int(statement_seconds * 1000))}
    # asyncpg.create_pool's own defaults, spelled out because the pool is built directly.
    pool = MeteredPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        server_settings=settings,
        init_size=None,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        reset=_keep_session,
    )
    pool.acquire_seconds = acquire_seconds or None
    await pool
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a release does beyond asyncpg's own rollback of an open transaction: nothing.

    asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release, a round trip each time. Pooled connections carry no
    session state for it to undo: advisory locks are transaction-scoped
    (`pg_advisory_xact_lock`), settings are given at connect (`server_settings`) or `SET
    LOCAL`, cursors live inside transactions, and LISTEN runs on dedicated connections
    (the outbox listener, the scheduler). Code that needs session state takes a connection
    of its own (`connect`), never a pooled one."""


class EmbeddedPostgres:
    """A private Postgres (the pgserver package) living in a local data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "postgres"
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return its DSN; idempotent."""
        self.path.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime folder at import; it does not need one
            # for a server in our own data folder, and without XDG_RUNTIME_DIR that only warns.
            warnings.simplefilter("ignore")
            from pgserver import get_server  # type: ignore[attr-defined]  # not in its __all__

            self._server = get_server(self.path, cleanup_mode="stop")
        log.info("embedded postgres ready", extra={"path": str(self.path)})
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
