"""Expected failures as typed results with stable codes.

Resolvers return these instead of raising; anything raised is unexpected and masked.
"""

from __future__ import annotations

import enum

import strawberry

__all__ = [
    "Error",
    "ErrorCode",
    "ForbiddenError",
    "IdempotencyConflictError",
    "IdempotencyKeyReusedError",
    "InvalidInputError",
    "NotFoundError",
]


@strawberry.enum
class ErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


@strawberry.interface
class Error:
    code: ErrorCode
    message: str


@strawberry.type
class NotFoundError(Error):
    @classmethod
    def of(cls, what: str) -> NotFoundError:
        return cls(code=ErrorCode.NOT_FOUND, message=f"{what} not found")


@strawberry.type
class ForbiddenError(Error):
    @classmethod
    def of(cls, message: str) -> ForbiddenError:
        return cls(code=ErrorCode.FORBIDDEN, message=message)


@strawberry.type
class InvalidInputError(Error):
    field: str

    @classmethod
    def of(cls, field: str, message: str) -> InvalidInputError:
        return cls(code=ErrorCode.INVALID_INPUT, message=message, field=field)


@strawberry.type(description="A request with this idempotency key is still running; retry.")
class IdempotencyConflictError(Error):
    @classmethod
    def of(cls) -> IdempotencyConflictError:
        return cls(
            code=ErrorCode.IDEMPOTENCY_CONFLICT,
            message="a request with this idempotency key is in progress; retry later",
        )


@strawberry.type(description="The idempotency key was used before with other arguments.")
class IdempotencyKeyReusedError(Error):
    @classmethod
    def of(cls) -> IdempotencyKeyReusedError:
        return cls(
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            message="this idempotency key was used with other arguments",
        )
