"""The cost of an operation, estimated from its document and the request's variables, and
a ceiling per role.

The estimate is what the operation could make the service resolve:

- a field returning an object (or union, or interface) costs its weight, 1 unless
  `WEIGHTS` says more; scalars, enums, `__typename` and introspection cost nothing here;
- a list multiplies the cost of its selection by its size: `first` where the field takes
  it, capped at the largest page (see `CostEstimator._first`), else `LIST_SIZES` or
  `DEFAULT_LIST_SIZE`. A field that takes `first` and returns a page (a connection) has
  its page's own lists (`edges`, `entries`) sized by it already, so those count once;
- nested lists multiply: `accounts(first: 100) { edges { node { grants { ... } } } }`
  costs 100 x (1 + 1 + 10 x the grant's selection).

Every fragment's alternatives are added up, whichever type the result takes. An operation
whose every `first` is written in the document costs the same whatever the request: a
validation rule (built once per ceiling) judges it, and the validation cache keeps the
verdict. One that takes a `first` from a variable costs what the request's values make it:
the rule leaves it, and `validated_cost_error` estimates it for each request once it validated, with
the variables coerced as execution coerces them. (It took the variable's default, which
the client writes: `query($n: Int = 1) { accounts(first: $n) ... }` with `{"n": 100}` was
costed at one page of one.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from strawberry.types import ExecutionContext

from benefitgate.api.pagination import MAX_FIRST
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    get_variable_values,
    is_composite_type,
)

__all__ = [
    "COST_LIMIT_EXCEEDED",
    "CostRule",
    "cost_rule",
    "estimate",
    "request_cost_error",
    "validated_cost_error",
]

COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"

DEFAULT_LIST_SIZE = 10
# Lists whose usual size is known to differ from the default (an account's usage has a
# row per limited metric; a series up to 1,000 points).
LIST_SIZES: Mapping[str, int] = {
    "Query.tiers": 10,
    "Query.benefits": 50,
    "UsageSeries.points": 100,
}
# Fields that cost the service more than one object each: a statement or more of their own.
WEIGHTS: Mapping[str, int] = {
    "Query.impactSummary": 20,
    "Query.usageSeries": 5,
    "Query.tierVersionDiff": 5,
    "Query.renewalNote": 30,  # an impact summary, adoption and the suggestion
    "Query.recommendations": 10,
    "ImpactReportList.reports": 20,  # each may render its PDF (tens of milliseconds)
}


Fragments = Callable[[str], FragmentDefinitionNode | None]

# The largest cost a refusal reports: the largest integer a JSON number holds exactly in
# every client (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_REPORTED_COST = 2**53 - 1


class CostEstimator:
    """Estimates the operations of one document against one schema (memoised per
    selection and type, so a fragment spread many times is costed once).

    `variables` are the request's coerced values; None while validating, when the
    request is not known: a `first` from a variable then sets `varies`, and the estimate
    is not the operation's."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Fragments,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._pages = _page_types(schema)
        self._memo: dict[tuple[int, str], int] = {}
        self._visiting: set[str] = set()
        self.varies = False

    def operation(self, node: OperationDefinitionNode) -> int:
        root = self._schema.get_root_type(OperationType(node.operation.value))
        if root is None:
            return 0
        return self._selection(node.selection_set, root)

    def _selection(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> int:
        key = (id(selection_set), parent.name)
        if key not in self._memo:
            self._memo[key] = sum(self._each(selection_set, parent))
        return self._memo[key]

    def _each(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> Iterator[int]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                on = selection.type_condition
                narrowed = self._schema.get_type(on.name.value) if on else parent
                if narrowed is not None:
                    yield self._selection(selection.selection_set, narrowed)
            elif isinstance(selection, FragmentSpreadNode):
                yield self._spread(selection)

    def _spread(self, spread: FragmentSpreadNode) -> int:
        name = spread.name.value
        fragment = self._fragments(name)
        if fragment is None or name in self._visiting:  # unknown or cyclic: other rules say so
            return 0
        on = self._schema.get_type(fragment.type_condition.name.value)
        if on is None:
            return 0
        self._visiting.add(name)
        try:
            return self._selection(fragment.selection_set, on)
        finally:
            self._visiting.discard(name)

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType):
            return 0
        field = parent.fields.get(name)
        if field is None:  # FieldsOnCorrectTypeRule reports it
            return 0
        named = get_named_type(field.type)
        if not is_composite_type(named) or node.selection_set is None:
            return 0
        own = WEIGHTS.get(f"{parent.name}.{name}", 1)
        return self._size(node, field, parent) * (own + self._selection(node.selection_set, named))

    def _size(self, node: FieldNode, field: GraphQLField, parent: GraphQLNamedType) -> int:
        if "first" in field.args:
            return self._first(node, field)
        if not isinstance(get_nullable_type(field.type), GraphQLList):
            return 1
        if parent.name in self._pages:
            return 1  # a page's list, sized by the `first` of the field that returned it
        return LIST_SIZES.get(f"{parent.name}.{node.name.value}", DEFAULT_LIST_SIZE)

    def _first(self, node: FieldNode, field: GraphQLField) -> int:
        """The page size `first` asks for, as execution reads it, capped at the largest page.
        Absent (or a variable the request leaves unset, with no default): the argument's
        default. Anything but an integer (null, which an `Int!` argument refuses as the
        field resolves) counts as the largest page: an estimate must never count less
        than what may run, and one that cannot run has nothing to under-count."""
        given = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if isinstance(given, VariableNode):
            if self._variables is None:
                self.varies = True
                return MAX_FIRST
            if given.name.value not in self._variables:
                given = None
            else:
                return _page_size(self._variables[given.name.value])
        if given is None:
            default = field.args["first"].default_value
            return _page_size(default)
        if isinstance(given, IntValueNode):
            return _page_size(int(given.value))
        return MAX_FIRST


def _page_size(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, min(value, MAX_FIRST))
    return MAX_FIRST


@lru_cache(maxsize=8)
def _page_types(schema: GraphQLSchema) -> frozenset[str]:
    """Types returned by fields that take `first` and return one object: the pages, whose
    lists that `first` sizes. Worked out once per schema (a walk of every field, 0.25 ms:
    more than estimating a request's operation)."""
    pages: set[str] = set()
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            returned = get_nullable_type(field.type)
            if "first" not in field.args or isinstance(returned, GraphQLList):
                continue
            members = returned.types if isinstance(returned, GraphQLUnionType) else [returned]
            pages.update(m.name for m in members)
    return frozenset(pages)


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> int:
    """The cost of `operation` of `document` run with `variables` (coerced values)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return CostEstimator(schema, fragments.get, variables).operation(operation)


def _too_costly(cost: int, ceiling: int, role: str, node: OperationDefinitionNode) -> GraphQLError:
    """The refusal, its cost at most MAX_REPORTED_COST: fragments spread within fragments
    multiply, and a cost past 64 bits made the response's encoding fail (a 500)."""
    shown = f"{cost}" if cost <= MAX_REPORTED_COST else f"over {MAX_REPORTED_COST}"
    return GraphQLError(
        f"operation cost {shown} is above the ceiling of {ceiling} for "
        f"{role} callers: ask for smaller pages (`first`) or fewer nested lists",
        node,
        extensions={
            "code": COST_LIMIT_EXCEEDED,
            "cost": min(cost, MAX_REPORTED_COST),
            "ceiling": ceiling,
        },
    )


class CostRule(ValidationRule):
    """The ceiling of one role, for operations whose cost the document alone decides."""

    role: str
    ceiling: int

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        estimator = CostEstimator(self.context.schema, self.context.get_fragment)
        cost = estimator.operation(node)
        if cost > self.ceiling and not estimator.varies:
            self.report_error(_too_costly(cost, self.ceiling, self.role, node))
        return self.SKIP


def cost_rule(role: str, ceiling: int) -> type[CostRule]:
    """A rule refusing operations estimated above `ceiling`, for callers of `role`."""
    return type("CostCeiling", (CostRule,), {"role": role, "ceiling": ceiling})


def request_cost_error(
    rule: type[CostRule],
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> GraphQLError | None:
    """The refusal of a validated operation whose `first` comes from a variable, when the
    request's values make it cost more than `rule`'s ceiling; None otherwise (and for an
    operation the validation rule judged already, which takes no `Int` variable).
    Values that do not coerce are left to execution, which refuses them before any field
    resolves, as it does whatever the cost."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:  # execution says which operation is missing
        return None
    sizes = [d for d in operation.variable_definitions or () if _is_int(d)]
    if not sizes:
        return None
    coerced = get_variable_values(schema, sizes, variables or {}, hide_suggestions=True)
    if isinstance(coerced, list):
        return None
    cost = estimate(schema, document, operation, coerced.coerced)
    if cost <= rule.ceiling:
        return None
    return _too_costly(cost, rule.ceiling, rule.role, operation)


def _is_int(definition: VariableDefinitionNode) -> bool:
    """Whether the variable may stand for `first`: only `Int` and `Int!` may (a list may not)."""
    type_ = definition.type
    if isinstance(type_, NonNullTypeNode):
        type_ = type_.type
    return isinstance(type_, NamedTypeNode) and type_.name.value == "Int"


def validated_cost_error(
    rule: type[CostRule] | None, context: ExecutionContext
) -> GraphQLError | None:
    """The refusal of an operation that validated cleanly, by the cost `rule` of the
    caller's role (joined to its validation rules), with the request's variables."""
    document = context.graphql_document
    # Only an operation that validated cleanly: an invalid one is refused already.
    if rule is None or document is None or context.pre_execution_errors != []:
        return None
    return request_cost_error(
        rule,
        context.schema._schema,
        document,
        context._provided_operation_name,
        context.variables,
    )
