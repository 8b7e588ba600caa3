"""Connections: the pool, the JSON codec, and the embedded Postgres used when no
DATABASE_URL is set."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from benefitgate.telemetry import metrics

__all__ = [
    "MAX_BIGINT",
    "EmbeddedPostgres",
    "MeteredPool",
    "connect",
    "create_pool",
    "init_connection",
    "with_database",
]

MAX_BIGINT = 2**63 - 1  # the largest Postgres bigint, and so the largest id or jsonb integer

log = logging.getLogger(__name__)

ConnectionHook = Callable[[asyncpg.Connection], Awaitable[None]]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb travels as Python objects in both directions."""
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


def with_database(dsn: str, name: str) -> str:
    """The same server DSN, naming another database."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


_STATEMENT_OK = metrics.DB_STATEMENT_SECONDS.labels("ok")
_STATEMENT_ERROR = metrics.DB_STATEMENT_SECONDS.labels("error")


def _statement_logged(query: Any) -> None:
    """asyncpg's query logger: called after each statement with its elapsed time."""
    (_STATEMENT_OK if query.exception is None else _STATEMENT_ERROR).observe(query.elapsed)


class MeteredPool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg has no type hints
    """A pool that knows how many tasks wait for a connection, and times each wait.
    `_acquire` is what `acquire()` awaits, in every asyncpg release since 0.10."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = 0

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's signature)
        started = time.perf_counter()
        self.waiting += 1
        try:
            return await super()._acquire(timeout)
        finally:
            self.waiting -= 1
            metrics.DB_POOL_ACQUIRE_SECONDS.observe(time.perf_counter() - started)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    statement_seconds: float = 0,
    on_connect: ConnectionHook | None = None,
) -> MeteredPool:
    """A pool whose statements Postgres cancels after `statement_seconds` (0: never): a
    statement that runs away, whatever its cause, ends as an error instead of holding its
    connection, its locks and its temporary files. Its statements and waits are timed
    into the metrics."""

    async def init(conn: asyncpg.Connection) -> None:
        await init_connection(conn)
        conn.add_query_logger(_statement_logged)
        if on_connect is not None:
            await on_connect(conn)

    timeout = {"statement_timeout": str(int(statement_seconds * 1000))}
    # asyncpg.create_pool's own defaults, spelled out because the pool is built directly.
    pool = MeteredPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        server_settings=timeout,
        init_size=None,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
    )
    await pool
    return pool


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
