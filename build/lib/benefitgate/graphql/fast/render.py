"""Executes a live event's selection once per subscription document, for every subscriber
of the process.

graphql-core executes a subscription's selection set on every event of every subscriber:
a thousand partners with the same document make a thousand identical executions of each
event. The executor below keeps each result, keyed by the operation, the values of the
variables its selection uses below the root field, and the event id, and hands it to the
next subscriber. That is exact because an `Event`'s fields are plain attributes of the
outbox row, the same for whoever reads them: who may see the event was decided before it
was yielded. Variables used only in the root field's arguments (`after`, `accountIds`)
narrow the stream, not the rendering, so subscribers resuming from different cursors
share renderings.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
from graphql.language import Node
from graphql.pyutils import Path

from benefitgate.feed.types import Event
from benefitgate.graphql.fast import delivery
from benefitgate.graphql.fast.executor import PlainFieldExecutor
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)

__all__ = ["LiveEventExecutor", "RenderCache"]

_Key = tuple[int, tuple[tuple[str, str], ...], str]


class RenderCache:
    """A bounded, least recently used map from (operation, variables, event) to the
    event's `next` payload as JSON."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._results: OrderedDict[_Key, tuple[OperationDefinitionNode, str]] = OrderedDict()
        self._variables: dict[int, tuple[OperationDefinitionNode, frozenset[str]]] = {}

    def get(self, operation: OperationDefinitionNode, key: _Key) -> str | None:
        hit = self._results.get(key)
        # Keys hold the operation's id; the entry keeps the operation itself, so an id is
        # never reused while its entry lives, and the identity check makes sure of it.
        if hit is None or hit[0] is not operation:
            return None
        self._results.move_to_end(key)
        return hit[1]

    def put(self, operation: OperationDefinitionNode, key: _Key, result: ExecutionResult) -> None:
        self._results[key] = (operation, orjson.dumps({"data": result.data}).decode())
        if len(self._results) > self._capacity:
            self._results.popitem(last=False)

    def selection_variables(
        self, operation: OperationDefinitionNode, fragments: dict[str, Any]
    ) -> frozenset[str]:
        known = self._variables.get(id(operation))
        if known is None or known[0] is not operation:
            known = (operation, _variables_below_root(operation, fragments))
            self._variables[id(operation)] = known
            if len(self._variables) > self._capacity:
                self._variables.pop(next(iter(self._variables)))
        return known[1]


class _VariableNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _variables_below_root(
    operation: OperationDefinitionNode, fragments: dict[str, Any]
) -> frozenset[str]:
    """Variables in root fields' selections and directives, and in every fragment; not
    those only in root fields' arguments."""
    collector = _VariableNames()
    nodes: list[Node] = list(fragments.values())
    for selection in operation.selection_set.selections:
        nodes += list(getattr(selection, "directives", None) or ())
        sub = getattr(selection, "selection_set", None)
        if sub is not None:
            nodes.append(sub)
        if not hasattr(selection, "arguments"):  # a fragment at the root: take it whole
            nodes.append(selection)
    for node in nodes:
        visit(node, collector)
    return frozenset(collector.names)


class LiveEventExecutor(PlainFieldExecutor):
    """The schema's executor: a live event's payload comes from the render cache when
    another subscriber of the same document already had it. Live events reach subscribers
    only through the direct delivery (`encoded_payload`); the stock path sends only
    renderings with errors, which are never cached."""

    def build_resolve_info(
        self,
        field_def: GraphQLField,
        field_nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo[Any]:
        # The subscription's own executor resolves its root field once, as it subscribes:
        # from then on it renders the stream's events for the direct delivery, if any.
        if path.prev is None and self.root_value is None:
            delivery.attach(self)
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    async def encoded_payload(self, event: Event) -> str | None:
        """The event's `next` payload as JSON, rendered once per document; None when the
        rendering has errors, which the stock path reports."""
        cache, key = self._render_key(event)
        if cache is None:
            return None
        hit = cache.get(self.operation, key)
        if hit is None:
            result = self.build_per_event_executor(event).execute_operation(False)
            if self.is_awaitable(result):
                result = await result
            hit = cache.get(self.operation, key)  # there unless the result has errors
        return hit

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        cache, key = self._render_key(self.root_value)
        if cache is not None and isinstance(result, ExecutionResult) and not result.errors:
            cache.put(self.operation, key, result)
        return result

    def _render_key(self, payload: Any) -> tuple[RenderCache | None, _Key]:
        if not isinstance(payload, Event):
            return None, (0, (), "")
        cache: RenderCache = self.context_value.shared.get(RenderCache)
        used = cache.selection_variables(self.operation, self.fragments)
        coerced = self.variable_values.coerced
        values = tuple(sorted((n, repr(coerced.get(n))) for n in used))
        return cache, (id(self.operation), values, str(payload.id))
