"""Validation as the schema runs it: a cached validation that keeps schema names out of
errors outside development mode (the depth and alias limits are `document_limits`).

The stock validation cache runs graphql-core without `hide_suggestions`, so
"Did you mean 'Account'?" named types and arguments whatever the schema's setting.

A document of several operations sent without `operationName` is refused, as the GraphQL
spec says (GetOperation): strawberry gave execution the first operation's name, so
`mutation Grant {...} mutation Revoke {...}` granted, and answered as if that was asked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    validate,
)

__all__ = ["validation_errors"]

# Documents validated and remembered, as many as the stock cache keeps (per process).
_CACHE_SIZE = 128

Validate = Callable[
    [GraphQLSchema, "_Identical", tuple[type[ASTValidationRule], ...]], list[GraphQLError]
]


def validation_errors(context: ExecutionContext, *, hide_suggestions: bool) -> list[GraphQLError]:
    """The errors of the request's document under its validation rules, with the verdicts
    on recent documents remembered (as strawberry's ValidationCache), and graphql-core's
    suggestions hidden when `hide_suggestions`."""
    document = context.graphql_document
    assert document is not None  # validation follows a parse
    validate = _cached_validation(hide_suggestions)
    errors = validate(context.schema._schema, _Identical(document), context.validation_rules)
    if not errors and _unnamed_choice(context):
        return [GraphQLError(_NAME_ONE)]
    return errors


_NAME_ONE = "Must provide operation name if query contains multiple operations."


def _unnamed_choice(context: Any) -> bool:
    """Whether the request leaves the operation to run unsaid among several. (Strawberry
    keeps the name the request gave apart from the one it falls back to.)"""
    if context._provided_operation_name is not None:  # the name the request gave, if any
        return False
    definitions = context.graphql_document.definitions
    return sum(isinstance(d, OperationDefinitionNode) for d in definitions) > 1


class _Identical:
    """A document as the validation cache's key, the same only as itself. The parser cache
    hands out one document per text, and graphql-core's nodes are dataclasses that hash
    their whole tree at every lookup (about 80 us of the account view's request)."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document  # kept alive by the cache's key: its id is not reused

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identical) and other.document is self.document


@cache
def _cached_validation(hide_suggestions: bool) -> Validate:
    @lru_cache(maxsize=_CACHE_SIZE)
    def validate_document(
        schema: GraphQLSchema,
        document: _Identical,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        # Strawberry's own rules for its Maybe and @oneOf inputs, as its validation adds.
        every = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
        return validate(schema, document.document, every, hide_suggestions=hide_suggestions)

    return validate_document
