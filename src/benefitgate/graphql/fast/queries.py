"""View documents answered in front of strawberry: a query over the read-only roots,
executed by a walk of its document that calls the same resolvers.

A cold account view spent about two thirds of its CPU around its reads and domain code
(bench/README, `cold_cpu.py`): strawberry's HTTP view, its schema's execution and the
extensions' hooks, graphql-core's executor building a path, a resolve info and an
awaitable chain for every field. This path keeps what decides the answer and drops the
rest. The document is parsed once per text; each request's variables are coerced by
graphql-core's executor (`PlainFieldExecutor.build`, so resolvers get the same values);
every resolver is called as graphql-core calls it (the field's own `resolve`, which is
strawberry's wrapper, with a resolve info built by the same executor and the arguments
from `get_argument_values`), or, where the wrapper would only call it, as the wrapper
calls it (`fast.direct`); sibling fields that wait are awaited together, as
graphql-core gathers them, so DataLoaders batch as they do there. Plain attributes are
read directly, leaves serialised by their type, abstract types resolved by the type's own
`resolve_type`.

It answers only what it can answer exactly as strawberry would:

- a query whose root fields are all among `READ_ONLY_ROOTS`: resolvers that read, so
  that running one again is harmless (an entitlement check counts its denials and has its
  own path, `fast.checks`); no directive anywhere (`@skip`, `@include`, `@defer`);
- only once strawberry has run the document cleanly for the caller's role: validation,
  introspection and the trusted documents' rule depend on the document and the role
  alone, so that run proves every later one passes them. The cost depends on the
  variables through `first`, so an operation with an `Int` variable is costed again for
  each request (`graphql.cost.request_cost_error`);
- and only a clean result, or one a resolver's error nulls whole. Anything else
  (variables that do not coerce, a resolver that raises below a field that may be null, a
  null where the schema says non-null, a value that does not serialise, a type that does
  not resolve) leaves nothing behind: what is under way is settled, and strawberry runs
  the request again and answers what it meets, masked and logged as always.

A resolver that raises where every field and list item from it to the root is non-null
(every read-only root is, and so is what the views' reads hang under: the account's
union, its grants, entitlements and usage) nulls the whole result, as graphql-core
propagates it: the answer is `data: null` and that error, located at its field. The path
answers that itself (`QueryFailure`, which the view masks, logs and records as strawberry
does). Its commonest cause is the database: a connection lost, a statement cancelled past
`BENEFITGATE_STATEMENT_SECONDS`, no pooled connection free in time. Run again through
strawberry, the request waited again on what made it fail (the lock, the statement's
time, the pool's queue), so each such request held its caller and a connection twice as
long, and doubled the load, exactly as the database was in trouble. Of errors raised by
several siblings, the first raised is the one graphql-core reports (it cancels the others
on the first); the path settles them all and reports that one.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from cachetools import LRUCache
from graphql.execution.collect_fields import FieldDetailsList, collect_fields
from graphql.pyutils import Path

from benefitgate.api.context import Context
from benefitgate.auth.principals import Role
from benefitgate.graphql.cost import request_cost_error
from benefitgate.graphql.fast.direct import direct_resolver
from benefitgate.graphql.fast.executor import PlainFieldExecutor, plain_attribute
from benefitgate.graphql.known import Known
from benefitgate.graphql.steps import Limits
from benefitgate.replica import ReadReplica
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    Visitor,
    get_argument_values,
    get_named_type,
    get_operation_ast,
    located_error,
    parse,
    visit,
)

__all__ = ["READ_ONLY_ROOTS", "QueryFailure", "QueryPath", "QueryPlan"]

# Root fields whose resolvers only read: the benefit views frontends and tools fetch.
READ_ONLY_ROOTS = frozenset({"account", "accounts", "tier", "tiers", "benefits", "milestones"})
_TYPENAME = "__typename"
_KEPT_PLANS = 10_000  # selections' plans kept across requests, oldest dropped first


class _Unanswered(Exception):
    """Something strawberry must answer: the walk stops and leaves the request to it."""


_RAISED = itertools.count()  # the order resolvers' errors were raised in, process-wide


class _FieldError(Exception):
    """A resolver's error whose null reaches the root: the walk's answer is `data: null`
    and this error, at its field."""

    def __init__(self, error: Exception, nodes: list[FieldNode], path: Path) -> None:
        super().__init__(error)
        self.error, self.nodes, self.path = error, nodes, path
        self.order = next(_RAISED)


@dataclass(frozen=True, slots=True)
class QueryFailure:
    """A view whose execution a resolver's error nulled whole: the error as graphql-core
    locates it (unmasked, as strawberry's execution gives it to be logged and masked)."""

    error: GraphQLError


@dataclass(slots=True)
class QueryPlan:
    """A view document, worked out once for its text and operation name."""

    document: DocumentNode  # with locations, as strawberry parses it: an error names them
    operation_name: str | None  # as the request names it
    label: str | None  # the operation's name, as the metrics label it
    sized: bool  # takes an Int variable, which may set a `first`: costed per request
    accepted: set[Role] = field(default_factory=set)  # roles it ran cleanly for


class QueryPath:
    """The process's view plans, by document text and operation name."""

    def __init__(
        self, schema: GraphQLSchema, executor: type[PlainFieldExecutor], limits: Limits
    ) -> None:
        self.schema = schema
        self._executor = executor
        self._limits = limits
        self._plans: LRUCache[tuple[str, str | None], QueryPlan | None] = LRUCache(maxsize=1_000)

    def worked_out(self, known: Known) -> QueryPlan | None:
        """The request's plan (None: not a view document), kept with its reading."""
        return self.plan(known.query, known.operation_name)

    def plan(self, query: str, operation_name: str | None) -> QueryPlan | None:
        key = (query, operation_name)
        try:
            return self._plans[key]
        except KeyError:
            pass
        plan = self._plans[key] = self._make_plan(query, operation_name)
        return plan

    async def answer(
        self, plan: QueryPlan, context: Context, variables: dict[str, Any] | None
    ) -> dict[str, Any] | QueryFailure | None:
        """The response's `data`, or the error that nulled it; None when strawberry must
        answer (see the module)."""
        rule = self._limits.cost_rule(context.principal)
        if plan.sized and rule is not None:
            refused = request_cost_error(
                rule, self.schema, plan.document, plan.operation_name, variables
            )
            if refused is not None:
                return None  # strawberry refuses it
        built = self._executor.build(
            self.schema, plan.document, None, context, variables, plan.operation_name
        )
        if not isinstance(built, PlainFieldExecutor):
            return None  # variables that do not coerce
        replica = context.shared.find(ReadReplica)
        if replica is not None:
            context.db.read_from(replica)  # as `graphql.replica_reads` does for a query
        try:
            data = _Walk(built).root()
            if built.is_awaitable(data):
                data = await data
        except _FieldError as failed:
            return QueryFailure(located_error(failed.error, failed.nodes, failed.path.as_list()))
        except Exception:
            return None
        finally:
            # As `PlainFieldExecutor.build_response` does: its async helpers are bound
            # methods of its own, a cycle that would keep the request for the collector.
            del built.async_helpers
        assert isinstance(data, dict)
        return data

    def _make_plan(self, query: str, operation_name: str | None) -> QueryPlan | None:
        try:
            document = parse(query, max_tokens=self._limits.max_tokens)
        except GraphQLError:
            return None
        operation = get_operation_ast(document, operation_name)
        if (
            not isinstance(operation, OperationDefinitionNode)
            or operation.operation is not OperationType.QUERY
            or _has_directives(document)
        ):
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        roots = _root_fields(operation.selection_set, fragments, set())
        if roots is None or not roots <= READ_ONLY_ROOTS | {_TYPENAME}:
            return None
        return QueryPlan(
            document=document,
            operation_name=operation_name,
            label=_label(operation, operation_name),
            sized=any(_names_int(d.type) for d in operation.variable_definitions or ()),
        )


def _label(operation: OperationDefinitionNode, operation_name: str | None) -> str | None:
    """The operation's name as strawberry's execution context gives it to the metrics."""
    if operation_name is not None:
        return operation_name
    return operation.name.value if operation.name else None


def _names_int(type_node: Any) -> bool:
    if isinstance(type_node, NonNullTypeNode):
        type_node = type_node.type
    return isinstance(type_node, NamedTypeNode) and type_node.name.value == "Int"


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> set[str] | None:
    """The names of the root fields selected, through fragments; None for a spread of a
    fragment the document lacks (strawberry reports it)."""
    names: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
            continue
        if isinstance(selection, InlineFragmentNode):
            inner = _root_fields(selection.selection_set, fragments, seen)
        else:
            assert isinstance(selection, FragmentSpreadNode)
            name = selection.name.value
            if name in seen:
                continue
            seen.add(name)
            fragment = fragments.get(name)
            if fragment is None:
                return None
            inner = _root_fields(fragment.selection_set, fragments, seen)
        if inner is None:
            return None
        names |= inner
    return names


def _has_directives(document: DocumentNode) -> bool:
    directives = _Directives()
    visit(document, directives)
    return directives.seen


class _Directives(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self.seen = True


class _Step:
    """One field of a selection, worked out once per document."""

    __slots__ = ("attribute", "definition", "details", "direct", "leaf", "name", "nodes")

    def __init__(
        self,
        name: str,
        definition: GraphQLField | None,
        details: FieldDetailsList,
        schema: GraphQLSchema,
    ) -> None:
        self.name = name  # the response name
        self.definition = definition  # None for __typename
        self.attribute = plain_attribute(definition)  # None when it has a resolver
        # Its resolver, called without strawberry's wrapper where that is the same call.
        self.direct = (
            direct_resolver(definition, schema)
            if definition is not None and self.attribute is None
            else None
        )
        self.details = details
        self.nodes = [d.node for d in details]
        # A plain attribute whose values are leaves: completed with no path or info.
        self.leaf = self.attribute is not None and isinstance(
            get_named_type(definition.type) if definition else None, GraphQLLeafType
        )


_Plan: TypeAlias = list[_Step]
_Info: TypeAlias = GraphQLResolveInfo[Any]
# Plans by type and the identity of what they were worked out from: the root's operation,
# or a field's details, which the parent's plan keeps (so the same list every request).
# Each value keeps its key's object alive, so that no id in a key is reused meanwhile.
_PLANS: dict[tuple[GraphQLObjectType, int], tuple[object, _Plan]] = {}


class _Walk:
    """One request's execution: the document's selections over the values resolved."""

    __slots__ = ("executor", "hide_suggestions", "is_awaitable", "schema")

    def __init__(self, executor: PlainFieldExecutor) -> None:
        self.executor = executor
        self.schema = executor.schema
        self.is_awaitable = executor.is_awaitable
        self.hide_suggestions = executor.hide_suggestions

    def root(self) -> Any:
        executor = self.executor
        root_type = self.schema.query_type
        assert root_type is not None
        operation = executor.operation
        kept = _PLANS.get((root_type, id(operation)))
        if kept is None:
            grouped, defers, _ = collect_fields(
                self.schema,
                executor.fragments,
                executor.variable_values,
                root_type,
                operation,
                self.hide_suggestions,
            )
            if defers:
                raise _Unanswered
            plan = _plan_of(self.schema, root_type, grouped)
            _keep((root_type, id(operation)), operation, plan)
        else:
            plan = kept[1]
        return self._fields(root_type, executor.root_value, plan, None, False)

    def _object(
        self,
        object_type: GraphQLObjectType,
        details: FieldDetailsList,
        path: Path,
        info: _Info,
        value: Any,
        nullable: bool,
    ) -> Any:
        is_type_of = object_type.is_type_of
        if is_type_of is not None and is_type_of(value, info) is not True:
            raise _Unanswered  # graphql-core reports the mismatch (or awaits the verdict)
        return self._fields(object_type, value, self._plan(object_type, details), path, nullable)

    def _fields(
        self,
        object_type: GraphQLObjectType,
        source: Any,
        plan: _Plan,
        path: Path | None,
        nullable: bool,
    ) -> Any:
        """The object's selected fields: a dict, or an awaitable of it when any waits.
        `nullable`: whether a position from the object up to the root may be null, which
        would stop a resolver's error below (the walk then leaves it to strawberry)."""
        result: dict[str, Any] = {}
        waiting: list[tuple[str, Awaitable[Any]]] = []
        try:
            for step in plan:
                name, definition = step.name, step.definition
                if definition is None:
                    result[name] = object_type.name
                    continue
                return_type = definition.type
                if step.leaf:
                    value = getattr(source, step.attribute)  # type: ignore[arg-type]
                    result[name] = self._complete(
                        return_type, step.details, None, None, value, nullable
                    )
                    continue
                field_path = Path(path, name, object_type.name)
                info = self.executor.build_resolve_info(
                    definition, step.nodes, object_type, field_path
                )
                if step.attribute is None:
                    guarded = nullable or not isinstance(return_type, GraphQLNonNull)
                    try:
                        value = self._resolve(step, source, info)
                    except Exception as error:
                        raise _raised(error, step.nodes, field_path, guarded) from error
                    if self.is_awaitable(value):
                        later = self._later(
                            return_type, step, field_path, info, value, nullable, guarded
                        )
                        waiting.append((name, later))
                        result[name] = None  # its place: the fields keep the document's order
                        continue
                else:
                    value = getattr(source, step.attribute)
                completed = self._complete(
                    return_type, step.details, field_path, info, value, nullable
                )
                if self.is_awaitable(completed):
                    waiting.append((name, completed))
                result[name] = completed
        except Exception as error:
            if not waiting:
                raise
            return _settled_then_raised([awaitable for _, awaitable in waiting], error)
        if not waiting:
            return result
        return self._gathered(result, waiting)

    def _resolve(self, step: _Step, source: Any, info: _Info) -> Any:
        definition, first = step.definition, step.details[0]
        assert definition is not None
        if first.fragment_variable_values is not None:
            raise _Unanswered
        arguments = (
            get_argument_values(
                definition, first.node, self.executor.variable_values, None, self.hide_suggestions
            )
            if definition.args or first.node.arguments
            else {}
        )
        if step.direct is not None:
            return step.direct(source, info, arguments)
        resolve = definition.resolve or self.executor.field_resolver
        return resolve(source, info, **arguments)

    async def _later(
        self,
        return_type: GraphQLOutputType,
        step: _Step,
        path: Path,
        info: _Info,
        value: Awaitable[Any],
        nullable: bool,
        guarded: bool,
    ) -> Any:
        try:
            resolved = await value
        except Exception as error:
            raise _raised(error, step.nodes, path, guarded) from error
        completed = self._complete(return_type, step.details, path, info, resolved, nullable)
        if self.is_awaitable(completed):
            completed = await completed
        return completed

    async def _gathered(
        self, result: dict[str, Any], waiting: list[tuple[str, Awaitable[Any]]]
    ) -> dict[str, Any]:
        values = await _together([awaitable for _, awaitable in waiting])
        for (name, _), value in zip(waiting, values, strict=True):
            result[name] = value
        return result

    def _complete(
        self,
        return_type: GraphQLOutputType,
        details: FieldDetailsList,
        path: Path | None,
        info: _Info | None,
        value: Any,
        nullable: bool,
    ) -> Any:
        """The value completed for its type, as graphql-core's `complete_value` does when
        nothing goes wrong; raises _Unanswered when something would."""
        if isinstance(return_type, GraphQLNonNull):
            if value is None:
                raise _Unanswered
            return_type = return_type.of_type
        elif value is None:
            return None
        else:
            nullable = True
        if isinstance(return_type, GraphQLLeafType):
            coerced = return_type.coerce_output_value(value)
            if coerced is None or coerced is Undefined:
                raise _Unanswered
            return coerced
        if isinstance(return_type, GraphQLList):
            return self._list(return_type.of_type, details, path, info, value, nullable)
        assert path is not None and info is not None  # built for every field not of leaves
        if isinstance(return_type, GraphQLAbstractType):
            return_type = self._runtime_type(return_type, info, value)
        if not isinstance(return_type, GraphQLObjectType):
            raise _Unanswered
        return self._object(return_type, details, path, info, value, nullable)

    def _list(
        self,
        item_type: GraphQLOutputType,
        details: FieldDetailsList,
        path: Path | None,
        info: _Info | None,
        value: Any,
        nullable: bool,
    ) -> Any:
        if not isinstance(value, list | tuple):  # an iterator read here would be spent
            raise _Unanswered
        items: list[Any] = []
        waiting: list[tuple[int, Awaitable[Any]]] = []
        try:
            for index, item in enumerate(value):
                item_path = None if path is None else Path(path, index, None)
                completed = self._complete(item_type, details, item_path, info, item, nullable)
                if self.is_awaitable(completed):
                    waiting.append((index, completed))
                items.append(completed)
        except Exception as error:
            if not waiting:
                raise
            return _settled_then_raised([awaitable for _, awaitable in waiting], error)
        if not waiting:
            return items
        return self._gathered_items(items, waiting)

    async def _gathered_items(
        self, items: list[Any], waiting: list[tuple[int, Awaitable[Any]]]
    ) -> list[Any]:
        values = await _together([awaitable for _, awaitable in waiting])
        for (index, _), value in zip(waiting, values, strict=True):
            items[index] = value
        return items

    def _runtime_type(
        self, abstract: GraphQLAbstractType, info: _Info, value: Any
    ) -> GraphQLObjectType:
        """The object type the value takes, as graphql-core's `complete_abstract_value`
        finds it (the type's own `resolve_type`, else the executor's)."""
        resolve_type = abstract.resolve_type or self.executor.type_resolver
        name = resolve_type(value, info, abstract)
        runtime = self.schema.get_type(name) if isinstance(name, str) else None
        if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(
            abstract, runtime
        ):
            raise _Unanswered
        return runtime

    def _plan(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> _Plan:
        """The fields of one selection on one type, worked out once per document."""
        kept = _PLANS.get((object_type, id(details)))
        if kept is not None:
            return kept[1]
        grouped, defers, _ = self.executor.collect_subfields(object_type, details)
        if defers:
            raise _Unanswered
        plan = _plan_of(self.schema, object_type, grouped)
        _keep((object_type, id(details)), details, plan)
        return plan


def _plan_of(
    schema: GraphQLSchema, object_type: GraphQLObjectType, grouped: dict[str, FieldDetailsList]
) -> _Plan:
    plan = []
    for name, details in grouped.items():
        field_name = details[0].node.name.value
        if field_name == _TYPENAME:
            plan.append(_Step(name, None, details, schema))
            continue
        definition = schema.get_field(object_type, field_name)
        if definition is None:
            raise _Unanswered
        plan.append(_Step(name, definition, details, schema))
    return plan


def _keep(key: tuple[GraphQLObjectType, int], owner: object, plan: _Plan) -> None:
    if len(_PLANS) >= _KEPT_PLANS:
        del _PLANS[next(iter(_PLANS))]
    _PLANS[key] = (owner, plan)


def _raised(error: Exception, nodes: list[FieldNode], path: Path, guarded: bool) -> Exception:
    """What a resolver's `error` raises in the walk: a _FieldError when its null reaches the
    root; else strawberry answers (a null that stops below the root keeps data beside it)."""
    if isinstance(error, _Unanswered) or guarded:
        return _Unanswered()
    return _FieldError(error, nodes, path)


async def _together(awaitables: list[Awaitable[Any]]) -> list[Any]:
    """Their values, awaited at once as graphql-core gathers siblings; when one fails, all
    are settled first, so nothing still runs on the request's connection afterwards."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    values = await asyncio.gather(*awaitables, return_exceptions=True)
    failed = [value for value in values if isinstance(value, BaseException)]
    if failed:
        raise _first(failed)
    return values


async def _settled_then_raised(awaitables: list[Awaitable[Any]], error: Exception) -> Any:
    """`error`, raised once the fields already under way have settled: a DataLoader's batch
    must not run on the request's connection after strawberry has taken the request over."""
    values = await asyncio.gather(*awaitables, return_exceptions=True)
    raise _first([error, *(value for value in values if isinstance(value, BaseException))])


def _first(failed: list[BaseException]) -> BaseException:
    """Of siblings' failures, what the walk raises: anything but a resolver's error first
    (strawberry answers), else the error raised first, as graphql-core reports the first
    to reach it and cancels the rest."""
    nulled = [error for error in failed if isinstance(error, _FieldError)]
    if len(nulled) < len(failed):
        return next(error for error in failed if not isinstance(error, _FieldError))
    return min(nulled, key=lambda error: error.order)
