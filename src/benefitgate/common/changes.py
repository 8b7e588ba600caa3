"""What every change by an internal tool carries, and the refusals all changes share.

Services raise these; the GraphQL edge maps each to a typed error with a stable code, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from benefitgate.common.text import a_or_an

__all__ = [
    "MAX_REASON",
    "AlreadyExists",
    "ChangeContext",
    "Forbidden",
    "InvalidChange",
    "RollbackRefused",
    "SeatsExhausted",
    "TargetNotFound",
    "VersionConflict",
    "expect_version",
]

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """Who changes what and why; every audit entry of the change records it."""

    actor: str
    reason: str
    request_id: str | None
    at: datetime


class InvalidChange(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Forbidden(PermissionError):
    """The caller may not make this change, though it may see its target (a frontend
    asking for what the vendor's self-serve policy leaves to internal tools)."""


class TargetNotFound(LookupError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class AlreadyExists(Exception):
    """A create named a unique key another object holds; `existing` is that object's id."""

    def __init__(self, what: str, key: str, existing: str) -> None:
        super().__init__(f"{a_or_an(what)} with {key} exists already")
        self.what = what
        self.existing = existing


class VersionConflict(Exception):
    """The target changed since the caller read it (optimistic concurrency). `message`
    says what changed where the numbers alone would not (a count, a published draft)."""

    def __init__(self, expected: int, actual: int, message: str | None = None) -> None:
        super().__init__(message or f"expected version {expected}, but it is at version {actual}")
        self.expected = expected
        self.actual = actual


def expect_version(expected: int, actual: int) -> None:
    """Optimistic concurrency: call with the target's row locked, so the check holds."""
    if actual != expected:
        raise VersionConflict(expected, actual)


class SeatsExhausted(Exception):
    """More seats would be held than purchased. `message` says so where "all are
    assigned" would not (a rollback that would leave fewer seats than are held)."""

    def __init__(self, purchased: int, assigned: int, message: str | None = None) -> None:
        super().__init__(message or f"all {purchased} purchased seats are assigned")
        self.purchased = purchased
        self.assigned = assigned


class RollbackRefused(Exception):
    """The target was changed after the entry to roll back; `later` names those changes."""

    def __init__(self, message: str, later: list[int]) -> None:
        super().__init__(message)
        self.later = later
