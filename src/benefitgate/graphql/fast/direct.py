"""Strawberry resolvers called as strawberry's wrapper calls them, without the wrapper.

Strawberry wraps every resolver (`GraphQLCoreConverter.from_resolver`). For each call the
wrapper makes an `Info`, converts the arguments, chains the field's extensions through
partials, checks the schema's exception handlers and awaits the result in a coroutine of
its own: about an eighth of a cold lean account view's CPU in the view documents' walk
(bench/README, `cold_cpu.py`). For a field with no extensions (permission classes are
extensions) and no exception handler for its type, all that comes down to the `Info`,
the arguments by their Python names, and the function called with the source as `self`,
`root` or `parent`, whichever it asks for. That is what `DirectResolver` does; the walk
(`fast.queries`) calls it in place of the field's `resolve`, and keeps the wrapper for any
other field. Arguments of scalar types, and nulls for optional ones, reach a resolver as
graphql-core coerced them (strawberry's conversion returns those as they are); when any
other is given, strawberry's own `convert_arguments` converts them all.

This follows strawberry's internals as of the version pinned in pyproject.toml; the view
documents' property test (tests/graphql/fast/test_queries.py) compares every answer with
strawberry's own, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.relay.types import GlobalID
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

from graphql import (
    GraphQLField,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    get_nullable_type,
)

__all__ = ["DirectResolver", "direct_resolver"]


class DirectResolver:
    """One field's resolver, called with a resolve info and graphql-core's argument values."""

    __slots__ = (
        "_arguments",
        "_field",
        "_function",
        "_info_class",
        "_info_name",
        "_names",
        "_schema",
        "_self",
        "_source_names",
    )

    def __init__(
        self, field: StrawberryField, schema: strawberry.Schema, definition: GraphQLField
    ) -> None:
        resolver = field.base_resolver
        assert resolver is not None
        self._field = field
        self._schema = schema
        assert callable(resolver.wrapped_func)  # see `direct_resolver`
        self._function: Callable[..., Any] = resolver.wrapped_func
        self._info_class = schema.config.info_class
        self._self = resolver.self_parameter is not None
        self._source_names = tuple(
            p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None
        )
        self._info_name = None if resolver.info_parameter is None else resolver.info_parameter.name
        self._arguments = field.arguments
        # By GraphQL name, the Python name of each argument, and whether its value passes
        # as graphql-core coerced it: a scalar's does (strawberry's conversion returns a
        # leaf's value as it is), but for relay's GlobalID, which travels as an ID, and a
        # Maybe, which strawberry wraps in `Some`. The others (input types, lists, enums)
        # are converted by strawberry, except a null for an Optional: it stays None.
        names = schema.config.name_converter
        self._names: dict[str, tuple[str, bool, bool]] = {}
        for argument in field.arguments:
            name = names.from_argument(argument)
            maybe = isinstance(argument.type, StrawberryMaybe)
            as_is = (
                isinstance(get_nullable_type(definition.args[name].type), GraphQLScalarType)
                and _unwrapped(argument.type) is not GlobalID
                and not maybe
            )
            null_as_is = isinstance(argument.type, StrawberryOptional) and not maybe
            self._names[name] = (str(argument.python_name), as_is, null_as_is)

    def __call__(
        self, source: Any, info: GraphQLResolveInfo[Any], arguments: dict[str, Any]
    ) -> Any:
        strawberry_info = self._info_class(_raw_info=info, _field=self._field)
        kwargs = self._as_they_are(arguments)
        if kwargs is None:
            kwargs = convert_arguments(
                arguments,
                self._arguments,
                scalar_registry=self._schema.schema_converter.scalar_registry,
                config=self._schema.config,
                info=strawberry_info,
            )
        for name in self._source_names:
            kwargs[name] = source
        if self._info_name is not None:
            kwargs[self._info_name] = strawberry_info
        if self._self:
            return self._function(source, **kwargs)
        return self._function(**kwargs)

    def _as_they_are(self, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """The arguments by Python name when none needs converting; else None."""
        kwargs = {}
        for name, value in arguments.items():
            python_name, as_is, null_as_is = self._names[name]
            if not (as_is or (null_as_is and value is None)):
                return None
            kwargs[python_name] = value
        return kwargs


def _unwrapped(type_: Any) -> Any:
    while isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return type_


def direct_resolver(definition: GraphQLField, schema: GraphQLSchema) -> DirectResolver | None:
    """The field's resolver to call without strawberry's wrapper; None when the wrapper
    does more than call it (extensions, exception handlers) or it has no resolver."""
    field = (definition.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if (
        not isinstance(field, StrawberryField)
        or not isinstance(strawberry_schema, strawberry.Schema)
        or field.base_resolver is None
        or not callable(field.base_resolver.wrapped_func)  # strawberry refuses it
        or field.extensions
        or strawberry_schema.schema_converter._get_field_exception_handlers(field)
    ):
        return None
    return DirectResolver(field, strawberry_schema, definition)
