"""The schema's own steps of every operation, as one strawberry extension.

Strawberry runs each extension's hooks through context managers it builds anew for every
request and phase, asking every extension for every hook (`get_hook`): the nine
extensions the schema had (operation metrics, the token limit, the added validation rules,
introspection by role, the parser and validation caches, the cost limit, error masking,
replica reads) cost 36 `get_hook` calls and ten generator context managers a request.
Here the same steps run in the same order, in one extension's four hooks:

- the operation: timed for the metrics (its time includes every other step), the token
  limit set for the parser, the validation rules of the caller's role joined (the schema's
  own, `NoIntrospection` for a role not allowed introspection, the role's cost ceiling);
  on the way out, unexpected errors masked, then the operation recorded;
- parsing: from a cache of recent document texts (as strawberry's ParserCache);
- validation: from a cache of recent documents' verdicts (`graphql.validation`), then the
  cost of a valid operation with the request's variables (`graphql.cost`);
- execution: a query reads the read replica when it may (`graphql.replica_reads`).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult, StreamExecutionResult

from benefitgate.auth.principals import Principal, Role
from benefitgate.graphql.cost import CostRule, validated_cost_error
from benefitgate.graphql.introspection import NoIntrospection
from benefitgate.graphql.masking import mask_result
from benefitgate.graphql.observe import record_operation
from benefitgate.graphql.replica_reads import replica_reads
from benefitgate.graphql.validation import validation_errors
from graphql import ASTValidationRule
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import parse as parse_document

__all__ = ["Limits", "OperationSteps"]

# Document texts parsed and remembered, as many as strawberry's ParserCache keeps.
_PARSED = 128
_parse = lru_cache(maxsize=_PARSED)(parse_document)


@dataclass(frozen=True)
class Limits:
    """What the steps enforce, fixed when the schema is built."""

    max_tokens: int
    rules: Sequence[type[ASTValidationRule]]
    introspection: Collection[Role]
    cost_rules: Mapping[str, type[CostRule]]  # by role; a role without one has no ceiling
    hide_suggestions: bool

    def rules_for(self, principal: Principal | None) -> tuple[type[ASTValidationRule], ...]:
        rules = tuple(self.rules)
        if principal is None or principal.role not in self.introspection:
            rules += (NoIntrospection,)
        cost = self.cost_rule(principal)
        return rules if cost is None else (*rules, cost)

    def cost_rule(self, principal: Principal | None) -> type[CostRule] | None:
        return None if principal is None else self.cost_rules.get(principal.role.value)


class OperationSteps(SchemaExtension):
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._streamed = False  # results were masked one by one as they were sent

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        context = self.execution_context
        context.parse_options["max_tokens"] = self._limits.max_tokens
        principal = getattr(context.context, "principal", None)
        context.validation_rules += self._limits.rules_for(principal)
        try:
            yield
            if not self._streamed:
                result = context.result
                if not isinstance(result, ExecutionResult | GraphQLExecutionResult):
                    result = getattr(result, "initial_result", None)
                mask_result(result)
        finally:
            record_operation(context, time.perf_counter() - started)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = _parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = validation_errors(
            context, hide_suggestions=self._limits.hide_suggestions
        )
        principal = getattr(context.context, "principal", None)
        refused = validated_cost_error(self._limits.cost_rule(principal), context)
        if refused is not None:
            context.pre_execution_errors = [refused]
        yield

    def on_execute(self) -> Iterator[None]:
        with replica_reads(self.execution_context):
            yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        mask_result(result)
        for each in getattr(result, "incremental", None) or ():
            mask_result(each)
        for each in getattr(result, "completed", None) or ():
            mask_result(each)
        yield
