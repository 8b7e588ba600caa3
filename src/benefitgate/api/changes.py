"""The one edge every mutation goes through: authorise, open the transaction, run the
effect (once per idempotency key), and map each domain refusal to its typed error.

`run_change` is for changes that carry an idempotency key: the effect returns a JSON
result, stored with the key, so a retry with the same key and arguments replays it instead
of changing anything twice. `run_write` is the same edge without a key, for writes that
are idempotent by their own content (usage events by their ids, a target set to the value
it has); `run_change` is built on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from benefitgate.api import idempotency
from benefitgate.api.context import Info
from benefitgate.api.errors import (
    AlreadyExistsError,
    ForbiddenError,
    IdempotencyConflictError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
    RollbackRefusedError,
    SeatsExhaustedError,
    VersionConflictError,
)
from benefitgate.common.changes import (
    MAX_REASON,
    AlreadyExists,
    ChangeContext,
    Forbidden,
    InvalidChange,
    RollbackRefused,
    SeatsExhausted,
    TargetNotFound,
    VersionConflict,
)
from benefitgate.events import written
from benefitgate.logs import request_id

__all__ = [
    "Applied",
    "ChangeError",
    "Committed",
    "Effect",
    "change_of",
    "in_transaction",
    "run_change",
    "run_write",
]

T = TypeVar("T")

Effect = Callable[[asyncpg.Connection, ChangeContext], Awaitable[dict[str, Any]]]

# Every change can meet every one of these; each change result lists them all, so that a
# refusal added to a rule later can never surface as a type missing from a union.
ChangeError = (
    ForbiddenError
    | InvalidInputError
    | NotFoundError
    | VersionConflictError
    | AlreadyExistsError
    | SeatsExhaustedError
    | RollbackRefusedError
    | IdempotencyConflictError
    | IdempotencyKeyReusedError
)


class Committed:
    """What the process does when one of its own changes commits, before the mutation
    answers: each hook hears the accounts the change's events name. (Every replica hears
    them again from its listener a moment later.)"""

    def __init__(self, *hooks: Callable[[set[UUID]], None]) -> None:
        self._hooks = hooks

    def changed(self, accounts: set[UUID]) -> None:
        for hook in self._hooks:
            hook(accounts)


@dataclass(frozen=True, slots=True)
class Applied:
    result: dict[str, Any]
    replayed: bool


def _refused(info: Info, key: str, reason: str | None, internal_only: bool) -> ChangeError | None:
    if internal_only and not info.context.principal.internal:
        return ForbiddenError.of("only internal tools (operator or admin keys) change this")
    if not 0 < len(key) <= idempotency.MAX_KEY_LENGTH:
        return InvalidInputError.of("idempotencyKey", "give a key of 1 to 255 characters")
    if reason is not None and len(reason) > MAX_REASON:
        return InvalidInputError.of("reason", f"at most {MAX_REASON} characters")
    return None


# Each refusal a change can raise, and the typed error the caller gets for it.
_ERRORS: dict[type[Exception], Callable[[Any], ChangeError]] = {
    InvalidChange: lambda e: InvalidInputError.of(e.field, str(e)),
    Forbidden: lambda e: ForbiddenError.of(str(e)),
    TargetNotFound: lambda e: NotFoundError.of(e.what),
    VersionConflict: lambda e: VersionConflictError.of(e.expected, e.actual, str(e)),
    AlreadyExists: lambda e: AlreadyExistsError.of(e.existing, str(e)),
    SeatsExhausted: lambda e: SeatsExhaustedError.of(e.purchased, e.assigned, str(e)),
    RollbackRefused: lambda e: RollbackRefusedError.of(e.later, str(e)),
    idempotency.IdempotencyConflict: lambda _: IdempotencyConflictError.of(),
    idempotency.IdempotencyKeyReused: lambda _: IdempotencyKeyReusedError.of(),
}


def change_of(info: Info, reason: str = "") -> ChangeContext:
    """Who changes what, and when, for a change that takes no idempotency key."""
    context = info.context
    return ChangeContext(context.principal.subject, reason, request_id.get(), context.now)


def _refusal(exc: Exception) -> ChangeError:
    """The typed error of a refusal, found by its class or the nearest base that has one."""
    kind = next(k for k in type(exc).__mro__ if k in _ERRORS)
    return _ERRORS[kind](exc)


async def run_write(
    info: Info,
    effect: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    prepare: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> T | ChangeError:
    """Run `effect` in one transaction and map each domain refusal to its typed error; a
    refusal rolls everything back. `prepare` runs first on the same connection, outside
    the transaction (work that must not share it, such as creating partitions)."""
    with written.recording() as changes:
        result = await in_transaction(info.context.db.acquire, effect, prepare=prepare)
    accounts = written.accounts_of(changes)
    if accounts:  # committed: what this process derived from them is stale from now on
        info.context.shared.get(Committed).changed(accounts)
    return result


async def in_transaction(
    connect: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
    effect: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    prepare: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> T | ChangeError:
    """`run_write` on a connection from `connect`, for an edge that is not GraphQL (the
    CloudEvents endpoint, with `pool.acquire`)."""
    try:
        async with connect() as conn:
            if prepare is not None:
                await prepare(conn)
            async with conn.transaction():
                return await effect(conn)
    except tuple(_ERRORS) as exc:
        return _refusal(exc)


async def run_change(
    info: Info,
    *,
    operation: str,
    key: str,
    reason: str | None,
    arguments: dict[str, Any],
    effect: Effect,
    internal_only: bool = True,
) -> Applied | ChangeError:
    """Run `effect` in one transaction, once per (caller, key). `arguments` are what makes
    two requests the same; the reason, for a change that takes one, is one of them. A
    refusal rolls everything back and leaves no key behind, so the caller may fix the
    request and retry with the same key. Only internal tools may change things, unless
    `internal_only` is False: the caller has then been authorised for the target already."""
    refused = _refused(info, key, reason, internal_only)
    if refused is not None:
        return refused
    context = info.context
    change = change_of(info, reason or "")
    if reason is not None:
        arguments = {**arguments, "reason": reason}

    async def once(conn: asyncpg.Connection) -> Applied:
        result, replayed = await idempotency.run_once(
            conn,
            scope=context.principal.idempotency_scope,
            key=key,
            operation=operation,
            arguments=arguments,
            now=context.now,
            effect=lambda: effect(conn, change),
        )
        return Applied(result, replayed)

    return await run_write(info, once)
