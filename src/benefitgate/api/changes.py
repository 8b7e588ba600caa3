"""The edge of every change by an internal tool: authorise, open the transaction, run the
effect once per idempotency key, and map each domain refusal to its typed error.

An effect returns a JSON result; that result is stored with the key, so a retry with the
same key and arguments replays it instead of changing anything twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from benefitgate.api import idempotency
from benefitgate.api.context import Info
from benefitgate.api.errors import (
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
    ChangeContext,
    InvalidChange,
    RollbackRefused,
    SeatsExhausted,
    TargetNotFound,
    VersionConflict,
)
from benefitgate.logs import request_id

__all__ = ["Applied", "ChangeError", "Effect", "run_change"]

Effect = Callable[[asyncpg.Connection, ChangeContext], Awaitable[dict[str, Any]]]

# Every change can meet every one of these; each change result lists them all, so that a
# refusal added to a rule later can never surface as a type missing from a union.
ChangeError = (
    ForbiddenError
    | InvalidInputError
    | NotFoundError
    | VersionConflictError
    | SeatsExhaustedError
    | RollbackRefusedError
    | IdempotencyConflictError
    | IdempotencyKeyReusedError
)


@dataclass(frozen=True, slots=True)
class Applied:
    result: dict[str, Any]
    replayed: bool


def _refused(info: Info, key: str, reason: str, internal_only: bool) -> ChangeError | None:
    if internal_only and not info.context.principal.internal:
        return ForbiddenError.of("only internal tools (operator or admin keys) change this")
    if not 0 < len(key) <= idempotency.MAX_KEY_LENGTH:
        return InvalidInputError.of("idempotencyKey", "give a key of 1 to 255 characters")
    if len(reason) > MAX_REASON:
        return InvalidInputError.of("reason", f"at most {MAX_REASON} characters")
    return None


# Each refusal a change can raise, and the typed error the caller gets for it.
_ERRORS: dict[type[Exception], Callable[[Any], ChangeError]] = {
    InvalidChange: lambda e: InvalidInputError.of(e.field, str(e)),
    TargetNotFound: lambda e: NotFoundError.of(e.what),
    VersionConflict: lambda e: VersionConflictError.of(e.expected, e.actual, str(e)),
    SeatsExhausted: lambda e: SeatsExhaustedError.of(e.purchased, e.assigned, str(e)),
    RollbackRefused: lambda e: RollbackRefusedError.of(e.later, str(e)),
    idempotency.IdempotencyConflict: lambda _: IdempotencyConflictError.of(),
    idempotency.IdempotencyKeyReused: lambda _: IdempotencyKeyReusedError.of(),
}


async def run_change(
    info: Info,
    *,
    operation: str,
    key: str,
    reason: str,
    arguments: dict[str, Any],
    effect: Effect,
    internal_only: bool = True,
) -> Applied | ChangeError:
    """Run `effect` in one transaction, once per (caller, key). `arguments` are what makes
    two requests the same; the reason is one of them. A refusal rolls everything back and
    leaves no key behind, so the caller may fix the request and retry with the same key.
    Only internal tools may change things, unless `internal_only` is False: the caller
    has then been authorised for the target already."""
    refused = _refused(info, key, reason, internal_only)
    if refused is not None:
        return refused
    context = info.context
    change = ChangeContext(context.principal.subject, reason, request_id.get(), context.now)
    try:
        async with context.pool.acquire() as conn, conn.transaction():
            result, replayed = await idempotency.run_once(
                conn,
                scope=context.principal.idempotency_scope,
                key=key,
                operation=operation,
                arguments={**arguments, "reason": reason},
                now=context.now,
                effect=lambda: effect(conn, change),
            )
    except tuple(_ERRORS) as exc:
        return _ERRORS[type(exc)](exc)
    return Applied(result, replayed)
