"""The depth and alias limits of a document, measured in time linear in its size.

Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` walk a fragment again at each of
its spreads. A document of 60 fragments, each spreading the next twice (2 KB, far below
the token limit), made them walk 2^60 selections: validation held the event loop, and
the process answered nobody until it was killed. Here each fragment is measured once and
its measure reused at every spread, so a document costs its own size to measure.

The measures are strawberry's, with the same messages: a field's depth is one more than
its deepest selection (a field without selections, or an introspection field, counts
0); an operation deeper than the limit is refused. Aliases count as the document would
run: a fragment's count at each of its spreads. A fragment spread inside itself (which
graphql-core's NoFragmentCyclesRule refuses) counts 0 there, as one not defined does
(KnownFragmentNamesRule refuses it); so does an empty selection set, which graphql-core
3.3 parses (`{ tiers { } }`) and another rule refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

__all__ = ["alias_count", "aliases_rule", "depth_rule", "operation_depth"]

# What a field counts for, given the measure of its selection set (0 when it has none).
FieldMeasure = Callable[[FieldNode, int], int]


class _Measure:
    """A per-document measure of selection sets: `field` gives a field's measure from its
    selection set's, and a set's selections combine by `combine`. Each set, a fragment's
    too, is measured once, walked with a stack of its own rather than by recursion: a
    chain of 240 fragments each spreading the next exhausted Python's stack, which
    reached the client as "Unexpected error."."""

    def __init__(
        self, document: DocumentNode, field: FieldMeasure, combine: Callable[[list[int]], int]
    ) -> None:
        self._fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._field = field
        self._combine = combine
        self._measured: dict[int, int] = {}  # by the set's id()
        self._measuring: set[int] = set()

    def selections(self, root: SelectionSetNode) -> int:
        stack = [root]
        while stack:
            node = stack[-1]
            if id(node) in self._measured:
                stack.pop()
                continue
            waiting = [
                below
                for below in map(self._below, node.selections)
                if below is not None
                and id(below) not in self._measured
                # A set being measured is spread inside itself: graphql-core's
                # NoFragmentCyclesRule refuses the document, and here it counts 0.
                and id(below) not in self._measuring
            ]
            if waiting and id(node) not in self._measuring:
                self._measuring.add(id(node))
                stack.extend(waiting)
                continue
            stack.pop()
            self._measuring.discard(id(node))
            self._measured[id(node)] = self._combine([self._one(s) for s in node.selections])
        return self._measured[id(root)]

    def _below(self, selection: Any) -> SelectionSetNode | None:
        """The set a selection's measure is made of, if any."""
        if isinstance(selection, FragmentSpreadNode):
            fragment = self._fragments.get(selection.name.value)
            return None if fragment is None else fragment.selection_set
        selection_set: SelectionSetNode | None = selection.selection_set
        return selection_set

    def _one(self, selection: Any) -> int:
        below = self._below(selection)
        measured = 0 if below is None else self._measured.get(id(below), 0)
        if isinstance(selection, FieldNode):
            return self._field(selection, measured)
        return measured


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _field_depth(node: FieldNode, below: int) -> int:
    if node.name.value.startswith("__") or node.selection_set is None:
        return 0
    return 1 + below


def _field_aliases(node: FieldNode, below: int) -> int:
    return (1 if node.alias else 0) + below


def operation_depth(document: DocumentNode) -> dict[OperationDefinitionNode, int]:
    """Each operation's depth, fragments measured once for the whole document."""
    measure = _Measure(document, _field_depth, lambda parts: max(parts, default=0))
    return {op: measure.selections(op.selection_set) for op in _operations(document)}


def alias_count(document: DocumentNode) -> int:
    """The aliases of every operation, a fragment's counted at each of its spreads."""
    measure = _Measure(document, _field_aliases, sum)
    return sum(measure.selections(op.selection_set) for op in _operations(document))


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """The depth limit as a rule class, built once (the validation cache keys on it)."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for op, depth in operation_depth(context.document).items():
                if depth > max_depth:
                    name = op.name.value if op.name else "anonymous"
                    message = f"'{name}' exceeds maximum operation depth of {max_depth}"
                    context.report_error(GraphQLError(message, op))

    return DepthLimit


def aliases_rule(max_aliases: int) -> type[ValidationRule]:
    """The alias limit as a rule class, built once."""

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            found = alias_count(context.document)
            if found > max_aliases:
                message = f"{found} aliases found. Allowed: {max_aliases}"
                context.report_error(GraphQLError(message))

    return AliasLimit
