"""Expected failures as typed results with stable codes.

Resolvers return these instead of raising; anything raised is unexpected and masked.
"""

from __future__ import annotations

import enum

import strawberry

__all__ = ["Error", "ErrorCode", "ForbiddenError", "InvalidInputError", "NotFoundError"]


@strawberry.enum
class ErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"


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
