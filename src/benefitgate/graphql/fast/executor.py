"""An executor that completes plain-attribute subtrees in one tight loop.

graphql-core spends a few microseconds on every field: a path, a resolve info, a resolver
call through strawberry, an awaitable check, then value completion. The account view is
hundreds of fields that are plain attributes of already-built objects, so that machinery
is most of its cost. For a field with no resolver, no arguments and no middleware, this
executor reads the attribute and completes the whole subtree below it directly, as long
as everything below is plain too. So does the object, or list of objects, that a
resolver returns (the view's entitlements, its usage rows): graphql-core resolves the
field, and the executor completes what it returned.

The plain fields of a selection (its plan) are worked out once per document when the
document's selections are the same whatever the variables (no directive anywhere), and
kept across requests; otherwise once per request.

Anything unusual (a resolver, an abstract type, `is_type_of`, `@defer`, a null in a
non-null position, a value that does not serialise) gives up on the fast path and
re-executes that field through graphql-core, so results and errors are exactly those of
the stock executor. Re-executing is safe because plain attributes have no side effects.
"""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import Any, TypeAlias

from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from benefitgate.graphql.fast.variables import flat_list_variables
from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    Executor,
    GraphQLError,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    Visitor,
    visit,
)

__all__ = ["PlainFieldExecutor", "plain_attribute"]

_STRAWBERRY_FIELD = GraphQLCoreConverter.DEFINITION_BACKREF
_TYPENAME = "__typename"
# Plans and verdicts kept across requests: a few per document; dropped oldest first.
_KEPT = 10_000


class _NotPlain(Exception):
    """Raised inside the fast path to hand a field back to graphql-core."""


def plain_attribute(field: GraphQLField | None) -> str | None:
    """The Python attribute a plain field reads; None when it has a resolver or arguments."""
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    definition = (field.extensions or {}).get(_STRAWBERRY_FIELD)
    return None if definition is None else str(definition.python_name)


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    # Whether request errors (variables of the wrong value) leave out graphql-core's
    # "Did you mean ...?", whatever the caller of `build` asks; strawberry never asks.
    hides_suggestions = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, _Plan]] = {}

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[GraphQLError] | Executor[Any]:
        """Build as graphql-core does, except that long lists of flat input objects are
        coerced on a fast path when all their items are valid (see `variables`)."""
        kwargs["hide_suggestions"] = kwargs.get("hide_suggestions", False) or cls.hides_suggestions
        flat = flat_list_variables(schema, document, operation_name, raw_variable_values)
        raw = raw_variable_values if flat is None else flat.remaining_raw
        built = super().build(
            schema, document, root_value, context_value, raw, operation_name, *args, **kwargs
        )
        if flat is None or not isinstance(built, Executor):
            return built
        assert raw_variable_values is not None  # flat lists come from raw values
        values = built.variable_values
        for name, items in flat.coerced.items():
            values.coerced[name] = items
            values.sources[name] = values.sources[name]._replace(value=raw_variable_values[name])
        return built

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):  # nothing incremental left to deliver
            # The executor refers to itself through the bound methods in its async helpers,
            # so all it holds (context, loaders, values) would otherwise wait for the cyclic
            # garbage collector, whose pauses under load set the tail latency.
            del self.async_helpers
        return response

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        attribute = plain_attribute(field)
        if field is not None and attribute is not None and not self._has_middleware:
            # Anything unusual falls through to graphql-core, which re-executes and reports it.
            with contextlib.suppress(Exception):
                return self._complete(field.type, field_details_list, getattr(source, attribute))
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if _of_objects(return_type) and not self._has_middleware:
            # As in `execute_field`: anything unusual is completed again by graphql-core.
            with contextlib.suppress(Exception):
                return self._complete(return_type, field_details_list, result)
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    @property
    def _has_middleware(self) -> bool:
        """Extensions with a `resolve` hook must see every field, so they disable the fast path."""
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def _complete(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList, value: Any
    ) -> Any:
        if isinstance(return_type, GraphQLNonNull):
            if value is None:
                raise _NotPlain
            return_type = return_type.of_type
        elif value is None:
            return None
        # Most fields are leaves, so they are tested first.
        if isinstance(return_type, GraphQLLeafType):
            coerced = return_type.coerce_output_value(value)
            if coerced is None or coerced is Undefined:
                raise _NotPlain
            return coerced
        if isinstance(return_type, GraphQLList):
            if not isinstance(value, list | tuple):  # an iterator read here would be spent
                raise _NotPlain
            item_type = return_type.of_type
            return [self._complete(item_type, field_details_list, item) for item in value]
        if isinstance(return_type, GraphQLObjectType) and return_type.is_type_of is None:
            return self._complete_object(return_type, field_details_list, value)
        raise _NotPlain

    def _complete_object(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList, value: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for response_name, attribute, field_type, sub_fields in self._plan(
            object_type, field_details_list
        ):
            if attribute is None:
                result[response_name] = object_type.name
            else:
                sub_value = getattr(value, attribute)
                result[response_name] = self._complete(field_type, sub_fields, sub_value)
        return result

    def _plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Plan:
        """The plain fields of one selection on one type: worked out once per document
        when its selections are fixed (keyed by the selection's nodes, which the parser
        cache keeps for the document's text), else once per request."""
        if self._fixed_selections:
            key: tuple[Any, ...] = (object_type, *[id(d.node) for d in field_details_list])
            plans = _PLANS
        else:
            key, plans = (object_type, id(field_details_list)), self._plans
        cached = plans.get(key)
        if cached is not None:
            return cached[1]
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            raise _NotPlain
        plan = [
            _plan_field(self.schema, object_type, response_name, sub_fields)
            for response_name, sub_fields in grouped_field_set.items()
        ]
        # Keyed by identity, as graphql-core's own memo: the list (with its nodes) kept
        # alive in the value, so that no id in the key is reused while it is kept.
        _keep(plans, key, (field_details_list, plan))
        return plan

    @cached_property
    def _fixed_selections(self) -> bool:
        return _without_directives(self.operation, self.fragment_definitions)


# response name, attribute (None for __typename), type, sub-selection
_PlanField: TypeAlias = tuple[str, str | None, GraphQLOutputType, FieldDetailsList]
_Plan: TypeAlias = list[_PlanField]
_PLANS: dict[tuple[Any, ...], tuple[FieldDetailsList, _Plan]] = {}
_FIXED: dict[int, tuple[OperationDefinitionNode, bool]] = {}


def _of_objects(return_type: GraphQLOutputType) -> bool:
    """Whether the type is an object type, or a list of them (null or not): what a
    resolver's value must be to be completed here. Leaves are left to graphql-core: an
    awaitable among a list's items would pass for a custom scalar's value."""
    if isinstance(return_type, GraphQLNonNull):
        return_type = return_type.of_type
    if isinstance(return_type, GraphQLList):
        return_type = return_type.of_type
        if isinstance(return_type, GraphQLNonNull):
            return_type = return_type.of_type
    return isinstance(return_type, GraphQLObjectType)


def _keep(kept: dict[Any, Any], key: Any, value: Any) -> None:
    if len(kept) >= _KEPT:
        del kept[next(iter(kept))]
    kept[key] = value


def _without_directives(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    """Whether no directive appears in the operation or the document's fragments: then
    no selection depends on the variables (`@skip`, `@include`) or defers (`@defer`)."""
    found = _FIXED.get(id(operation))
    if found is not None and found[0] is operation:
        return found[1]
    directives = _Directives()
    for node in (operation, *fragments.values()):
        visit(node, directives)
    _keep(_FIXED, id(operation), (operation, not directives.seen))
    return not directives.seen


class _Directives(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self.seen = True


def _plan_field(
    schema: GraphQLSchema,
    object_type: GraphQLObjectType,
    response_name: str,
    sub_fields: FieldDetailsList,
) -> _PlanField:
    field_name = sub_fields[0].node.name.value
    if field_name == _TYPENAME:
        return response_name, None, object_type, sub_fields
    field = schema.get_field(object_type, field_name)
    attribute = plain_attribute(field)
    if field is None or attribute is None:
        raise _NotPlain
    return response_name, attribute, field.type, sub_fields
