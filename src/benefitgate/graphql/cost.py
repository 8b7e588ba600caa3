"""The cost of an operation, estimated from its document alone, and a ceiling per role.

The estimate is what the operation could make the service resolve:

- a field returning an object (or union, or interface) costs its weight, 1 unless
  `WEIGHTS` says more; scalars, enums, `__typename` and introspection cost nothing here;
- a list multiplies the cost of its selection by its size: `first` where the field takes
  it (a literal, capped at the largest page; a variable's default, else the largest page;
  else the argument's default), else `LIST_SIZES` or `DEFAULT_LIST_SIZE`. A field that
  takes `first` and returns a page (a connection) has its page's own lists (`edges`,
  `entries`) sized by it already, so those count once;
- nested lists multiply: `accounts(first: 100) { edges { node { grants { ... } } } }`
  costs 100 x (1 + 1 + 10 x the grant's selection).

Every fragment's alternatives are added up, whichever type the result takes. The cost
depends on the document only, so it is a validation rule (built once per ceiling) and the
validation cache keeps its verdict: `CostLimit` adds the rule of the caller's role.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from strawberry.extensions import SchemaExtension

from benefitgate.api.pagination import MAX_FIRST
from graphql import (
    FieldNode,
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
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)

__all__ = ["COST_LIMIT_EXCEEDED", "CostLimit", "cost_rule", "estimate"]

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


class CostEstimator:
    """Estimates the operations of one document against one schema (memoised per
    selection and type, so a fragment spread many times is costed once)."""

    def __init__(self, context: ValidationContext) -> None:
        self._context = context
        self._schema = context.schema
        self._pages = _page_types(context.schema)
        self._memo: dict[tuple[int, str], int] = {}
        self._visiting: set[str] = set()

    def operation(self, node: OperationDefinitionNode) -> int:
        root = self._schema.get_root_type(OperationType(node.operation.value))
        if root is None:
            return 0
        self._variables = {
            d.variable.name.value: d.default_value for d in node.variable_definitions or ()
        }
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
        fragment = self._context.get_fragment(name)
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
        given = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if isinstance(given, VariableNode):
            given = self._variables.get(given.name.value)
            if given is None:
                return MAX_FIRST
        if isinstance(given, IntValueNode):
            return max(0, min(int(given.value), MAX_FIRST))
        default = field.args["first"].default_value
        return default if isinstance(default, int) else MAX_FIRST


def _page_types(schema: GraphQLSchema) -> frozenset[str]:
    """Types returned by fields that take `first` and return one object: the pages, whose
    lists that `first` sizes."""
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


def estimate(context: ValidationContext, node: OperationDefinitionNode) -> int:
    return CostEstimator(context).operation(node)


def cost_rule(role: str, ceiling: int) -> type[ValidationRule]:
    """A rule refusing operations estimated above `ceiling`, for callers of `role`."""

    class CostCeiling(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            cost = estimate(self.context, node)
            if cost > ceiling:
                self.report_error(
                    GraphQLError(
                        f"operation cost {cost} is above the ceiling of {ceiling} for "
                        f"{role} callers: ask for smaller pages (`first`) or fewer nested lists",
                        node,
                        extensions={"code": COST_LIMIT_EXCEEDED, "cost": cost, "ceiling": ceiling},
                    )
                )
            return self.SKIP

    return CostCeiling


class CostLimit(SchemaExtension):
    """Adds the cost rule of the caller's role to the operation's validation rules."""

    def __init__(self, rules: Mapping[str, type[ValidationRule]]) -> None:
        self._rules = rules

    def on_operation(self) -> Iterator[None]:
        principal = getattr(self.execution_context.context, "principal", None)
        rule = self._rules.get(principal.role.value) if principal is not None else None
        if rule is not None:
            context = self.execution_context
            context.validation_rules = (*context.validation_rules, rule)
        yield
