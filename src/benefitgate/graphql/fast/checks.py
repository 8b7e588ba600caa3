"""The entitlement check's fast path: a check document answered without strawberry.

A check from an entitlement snapshot costs a few microseconds; the GraphQL request around
it (strawberry's view and extensions, the parser and validation caches, graphql-core's
execution) cost about fifty times that. This path recognises a query whose one root field
is `entitlementCheck` by the shape of its parsed document, once per document text and
operation, coerces its variables and arguments with graphql-core's own functions, runs the
same function the resolver runs (`metering.resolvers.answer_check`: the same snapshot, the
same access rule, the same typed errors, the same denial counting), and renders the answer
as graphql-core completes it.

Anything else runs through strawberry, and so does a check document until it has run
there cleanly for the caller's role: validation (depth, aliases, cost, introspection) and
the trusted documents' rule depend only on the document and the role, so one clean run
proves every later one passes them. (Cost depends on variables only through `first`,
which neither `entitlementCheck` nor the answer's fields take.) Variables that do not
coerce, an argument error, an unexpected failure (a lost database): strawberry again,
which answers them as it always has. Only a clean answer is ever given here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from benefitgate.api.context import Context
from benefitgate.auth.principals import Role
from benefitgate.graphql.fast.executor import plain_attribute
from benefitgate.graphql.known import Known
from benefitgate.metering.resolvers import answer_check
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableValues,
    get_argument_values,
    get_operation_ast,
    get_variable_values,
    is_abstract_type,
    parse,
    type_from_ast,
)

__all__ = ["CheckPath", "CheckPlan", "may_name_a_check"]

ROOT_FIELD = "entitlementCheck"
_TYPENAME = "__typename"


# A body that may hold a check: its text, or a trusted document's id.
_MAY_NAME_A_CHECK = (ROOT_FIELD.encode(), b"documentId", b"persistedQuery")


def may_name_a_check(body: bytes) -> bool:
    """Whether a POST body may hold a check document; a usage batch of a megabyte is then
    not decoded twice (once here, once by strawberry)."""
    return any(word in body for word in _MAY_NAME_A_CHECK)


class _NotPlain(Exception):
    """The document asks for something this path does not render; strawberry answers it."""


class _Slot:
    """A variable's place among the argument values worked out with the plan."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


# The operation's variables (each a scalar) and the argument values with their slots.
_Scalars = tuple[tuple[tuple[str, GraphQLLeafType], ...], dict[str, Any]]
_JSON_SCALARS = frozenset({str, int, float, bool})

# One field of a result: its response name, the attribute it reads and its leaf type
# (both None for __typename), and whether it is non-null.
_Leaf = tuple[str, str | None, GraphQLLeafType | None, bool]


@dataclass(slots=True)
class CheckPlan:
    """A check document, worked out once: where its arguments come from and what it
    selects of each type the check can answer with."""

    operation: OperationDefinitionNode
    node: FieldNode
    root: GraphQLField
    response_name: str
    operation_label: str | None  # the operation's name, as the metrics label it
    selections: Mapping[str, tuple[_Leaf, ...]]  # by the result's GraphQL type name
    scalars: _Scalars | None  # see `_scalar_arguments`
    accepted: set[Role] = field(default_factory=set)  # roles it ran cleanly for

    def arguments(self, schema: GraphQLSchema, variables: dict[str, Any]) -> dict[str, Any] | None:
        """The resolver's keyword arguments, coerced as graphql-core coerces them; None
        when they do not coerce (strawberry then reports it)."""
        values = self._scalar_arguments(variables)
        if values is None:
            coerced = get_variable_values(
                schema, self.operation.variable_definitions or (), variables
            )
            if isinstance(coerced, list):
                return None
            try:
                values = get_argument_values(self.root, self.node, coerced)
            except GraphQLError:
                return None
        return {
            "account_id": values["accountId"],
            "feature": values.get("feature"),
            "metric": values.get("metric"),
            "requested": values["requested"],
        }

    def _scalar_arguments(self, variables: dict[str, Any]) -> dict[str, Any] | None:
        """The argument values as graphql-core's functions give them, in the common case
        in a tenth of their time: every variable is a scalar, given and not null, which
        graphql-core coerces with its type's `coerce_input_value` and nothing else, and
        passes on unchanged to the argument that names it; literal and default values
        were coerced once, with the plan. None for any other case."""
        if self.scalars is None:
            return None
        leaves, template = self.scalars
        coerced: dict[str, Any] = {}
        for name, leaf in leaves:
            value: Any = variables.get(name)
            if type(value) not in _JSON_SCALARS:
                return None  # missing, null, a list or an object
            try:
                coerced[name] = leaf.coerce_input_value(value)
            except Exception:
                return None
            if coerced[name] is None or coerced[name] is Undefined:
                return None
        return {
            name: coerced[value.name] if isinstance(value, _Slot) else value
            for name, value in template.items()
        }

    def render(self, result: object) -> dict[str, Any]:
        """The `data` of the response: the result completed for the selection of its type."""
        type_name = type(result).__strawberry_definition__.name  # type: ignore[attr-defined]
        completed: dict[str, Any] = {}
        for response_name, attribute, leaf, non_null in self.selections[type_name]:
            if attribute is None or leaf is None:
                completed[response_name] = type_name
                continue
            value = getattr(result, attribute)
            # The result types are dataclasses whose non-null fields cannot be None.
            assert value is not None or not non_null, f"{type_name}.{attribute} is null"
            completed[response_name] = None if value is None else leaf.serialize(value)
        return {self.response_name: completed}


class CheckPath:
    """The process's check plans, by document text and operation name."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int) -> None:
        self.schema = schema
        self._max_tokens = max_tokens
        self._plans: LRUCache[tuple[str, str | None], CheckPlan | None] = LRUCache(maxsize=1_000)

    def worked_out(self, known: Known) -> tuple[CheckPlan | None, dict[str, Any] | None]:
        """A request's check plan (None: not a check document) and its resolver's
        arguments (None: they do not coerce). Worked out once for the request's bytes
        (`graphql.known`); both depend on its parameters alone."""
        plan = self.plan(known.query, known.operation_name)
        if plan is None:
            return None, None
        return plan, plan.arguments(self.schema, known.variables or {})

    def plan(self, query: str, operation_name: str | None) -> CheckPlan | None:
        key = (query, operation_name)
        try:
            return self._plans[key]
        except KeyError:
            pass
        plan = self._plans[key] = self._make_plan(query, operation_name)
        return plan

    async def answer(
        self, plan: CheckPlan, context: Context, arguments: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The response's `data`; None when the check failed unexpectedly (nothing was
        counted: strawberry runs it again, and masks and logs what it meets)."""
        try:
            result = await answer_check(context, **arguments)
        except Exception:
            return None
        return plan.render(result)

    def _make_plan(self, query: str, operation_name: str | None) -> CheckPlan | None:
        try:
            document = parse(query, no_location=True, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        operation = get_operation_ast(document, operation_name)
        if (
            not isinstance(operation, OperationDefinitionNode)
            or operation.operation is not OperationType.QUERY
            or operation.directives
        ):
            return None
        selections = operation.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            return None
        node = selections[0]
        query_type = self.schema.query_type
        if node.name.value != ROOT_FIELD or node.directives or query_type is None:
            return None
        root = query_type.fields[ROOT_FIELD]
        try:
            by_type = self._selections(document, root, node.selection_set)
        except _NotPlain:
            return None
        return CheckPlan(
            operation=operation,
            node=node,
            root=root,
            response_name=node.alias.value if node.alias else ROOT_FIELD,
            operation_label=_label(document, operation_name),
            selections=by_type,
            scalars=_scalars(self.schema, operation, root, node),
        )

    def _selections(
        self, document: DocumentNode, root: GraphQLField, selection_set: SelectionSetNode | None
    ) -> dict[str, tuple[_Leaf, ...]]:
        result_type = root.type.of_type if isinstance(root.type, GraphQLNonNull) else root.type
        if not isinstance(result_type, GraphQLAbstractType) or selection_set is None:
            raise _NotPlain
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return {
            possible.name: tuple(_leaves(self.schema, possible, selection_set, fragments))
            for possible in self.schema.get_possible_types(result_type)
        }


def _scalars(
    schema: GraphQLSchema, operation: OperationDefinitionNode, root: GraphQLField, node: FieldNode
) -> _Scalars | None:
    """The operation's variables when each is a scalar, and the arguments graphql-core
    gives with a slot in place of each variable's value; None otherwise."""
    leaves = []
    for definition in operation.variable_definitions or ():
        declared = type_from_ast(schema, definition.type)
        leaf = declared.of_type if isinstance(declared, GraphQLNonNull) else declared
        if not isinstance(leaf, GraphQLLeafType):
            return None
        leaves.append((definition.variable.name.value, leaf))
    slots = {name: _Slot(name) for name, _ in leaves}
    try:
        template = get_argument_values(root, node, VariableValues({}, slots))
    except GraphQLError:
        return None
    return tuple(leaves), template


def _label(document: DocumentNode, operation_name: str | None) -> str | None:
    """The operation's name as strawberry's execution context gives it to the metrics: the
    one asked for, else the first operation's."""
    if operation_name is not None:
        return operation_name
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            return definition.name.value if definition.name else None
    return None


def _leaves(
    schema: GraphQLSchema,
    object_type: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> list[_Leaf]:
    """The fields selected on `object_type`, in graphql-core's order (the first of each
    response name); raises _NotPlain for anything but leaves that are plain attributes."""
    collected: dict[str, _Leaf] = {}
    _collect(schema, object_type, selection_set, fragments, collected, set())
    return list(collected.values())


def _collect(
    schema: GraphQLSchema,
    object_type: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    collected: dict[str, _Leaf],
    seen_fragments: set[str],
) -> None:
    for selection in selection_set.selections:
        if selection.directives:
            raise _NotPlain  # @skip, @include, @defer: left to graphql-core
        if isinstance(selection, FieldNode):
            name = selection.alias.value if selection.alias else selection.name.value
            if name not in collected:
                collected[name] = _leaf(schema, object_type, selection, name)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or _applies(schema, condition.name.value, object_type):
                _collect(
                    schema, object_type, selection.selection_set, fragments, collected,
                    seen_fragments,
                )  # fmt: skip
        elif isinstance(selection, FragmentSpreadNode):
            spread = selection.name.value
            fragment = fragments.get(spread)
            if spread in seen_fragments or fragment is None:
                continue
            seen_fragments.add(spread)
            if _applies(schema, fragment.type_condition.name.value, object_type):
                _collect(
                    schema, object_type, fragment.selection_set, fragments, collected,
                    seen_fragments,
                )  # fmt: skip


def _applies(schema: GraphQLSchema, condition: str, object_type: GraphQLObjectType) -> bool:
    named = schema.get_type(condition)
    if named is object_type:
        return True
    return is_abstract_type(named) and schema.is_sub_type(named, object_type)


def _leaf(
    schema: GraphQLSchema, object_type: GraphQLObjectType, node: FieldNode, name: str
) -> _Leaf:
    field_name = node.name.value
    if field_name == _TYPENAME:
        return name, None, None, True
    found = object_type.fields.get(field_name)
    attribute = plain_attribute(found)
    if found is None or attribute is None or node.arguments or node.selection_set is not None:
        raise _NotPlain  # a field with a resolver of its own, or not a leaf
    non_null = isinstance(found.type, GraphQLNonNull)
    leaf = found.type.of_type if isinstance(found.type, GraphQLNonNull) else found.type
    if not isinstance(leaf, GraphQLLeafType):
        raise _NotPlain
    return name, attribute, leaf, non_null
