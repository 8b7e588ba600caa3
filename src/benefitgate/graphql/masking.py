"""Unexpected errors as the caller sees them: "Unexpected error." at their location, or
UNAVAILABLE (retryable) when the database was lost. Syntax, validation and limit errors,
and the typed errors of our own code, stay as they are."""

from __future__ import annotations

from typing import Any

from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from benefitgate.db import unavailable
from benefitgate.graphql.unavailable import unavailable_error
from graphql import GraphQLError

__all__ = ["UNEXPECTED", "is_unexpected", "mask_result", "masked"]

UNEXPECTED = "Unexpected error."


def is_unexpected(error: GraphQLError) -> bool:
    """Mask only errors raised by our code; syntax, validation and limit errors stay readable,
    and so does an operation type a transport does not carry."""
    return error.original_error is not None and not isinstance(
        error.original_error,
        GraphQLError | InvalidOperationTypeError | CannotGetOperationTypeError,
    )


def _mask(error: GraphQLError) -> GraphQLError:
    """An unexpected error as the caller sees it, at its location; any other as it is."""
    if not is_unexpected(error):
        return error
    if unavailable(error.original_error):
        return unavailable_error(error)
    return GraphQLError(UNEXPECTED, error.nodes, error.source, error.positions, error.path)


def masked(errors: list[GraphQLError]) -> list[GraphQLError]:
    return [_mask(error) for error in errors]


def mask_result(result: Any) -> None:
    """A result's errors masked in place. (Strawberry's MaskErrors tells a result by an
    isinstance against a runtime-checkable Protocol, about a tenth of the time of each live
    event sent; an attribute read does the same.)"""
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = masked(errors)
