"""Expected failures as typed results with stable codes.

Resolvers return these instead of raising; anything raised is unexpected and masked.
"""

from __future__ import annotations

import enum

import strawberry

from benefitgate.telemetry import metrics

__all__ = [
    "AlreadyExistsError",
    "Error",
    "ErrorCode",
    "ForbiddenError",
    "IdempotencyConflictError",
    "IdempotencyKeyReusedError",
    "InvalidInputError",
    "NotFoundError",
    "RollbackRefusedError",
    "SeatsExhaustedError",
    "VersionConflictError",
]


@strawberry.enum
class ErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    SEATS_EXHAUSTED = "SEATS_EXHAUSTED"
    CREDITS_EXHAUSTED = "CREDITS_EXHAUSTED"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    ROLLBACK_REFUSED = "ROLLBACK_REFUSED"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    CREDENTIAL_EXPIRED = "CREDENTIAL_EXPIRED"


@strawberry.interface
class Error:
    code: ErrorCode
    message: str

    def __post_init__(self) -> None:
        # Every typed failure is built once per answer: counted here, by its code.
        metrics.error(self.code.value)


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


@strawberry.type(
    description="What you changed was changed by someone else since you read "
    "it; read it again and retry with its current version."
)
class VersionConflictError(Error):
    expected_version: int
    current_version: int

    @classmethod
    def of(cls, expected: int, current: int, message: str) -> VersionConflictError:
        return cls(
            code=ErrorCode.VERSION_CONFLICT,
            message=message,
            expected_version=expected,
            current_version=current,
        )


@strawberry.type(
    description="What you create names a unique key another object holds (an account's "
    "externalId): `existingId` is that object, not a second one."
)
class AlreadyExistsError(Error):
    existing_id: strawberry.ID

    @classmethod
    def of(cls, existing: str, message: str) -> AlreadyExistsError:
        return cls(
            code=ErrorCode.ALREADY_EXISTS, message=message, existing_id=strawberry.ID(existing)
        )


@strawberry.type(description="Every purchased seat is assigned.")
class SeatsExhaustedError(Error):
    purchased: int
    assigned: int

    @classmethod
    def of(cls, purchased: int, assigned: int, message: str) -> SeatsExhaustedError:
        return cls(
            code=ErrorCode.SEATS_EXHAUSTED, message=message, purchased=purchased, assigned=assigned
        )


@strawberry.type(
    description="The target changed after the entry; roll back the later entries first."
)
class RollbackRefusedError(Error):
    later_entry_ids: list[strawberry.ID]

    @classmethod
    def of(cls, later: list[int], message: str) -> RollbackRefusedError:
        return cls(
            code=ErrorCode.ROLLBACK_REFUSED,
            message=message,
            later_entry_ids=[strawberry.ID(str(i)) for i in later],
        )
