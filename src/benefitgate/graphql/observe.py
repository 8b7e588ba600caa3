"""GraphQL operations into the metrics: duration by operation name, type and outcome, and
each error answered by its code. Subscriptions are left out: their duration is a
connection's life, and the live gauges count them."""

from __future__ import annotations

from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from benefitgate.graphql.masking import masked
from benefitgate.telemetry import metrics
from graphql import GraphQLError, GraphQLSyntaxError

__all__ = ["error_code", "operation_failed", "operation_succeeded", "record_operation"]


def error_code(error: GraphQLError) -> str:
    """The stable code of an error entry: its own `extensions.code`, else by kind."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError) or isinstance(
        error.original_error, GraphQLSyntaxError
    ):
        return "GRAPHQL_PARSE_FAILED"
    if error.path:  # typed failures are data: an error in a field is an unexpected one
        return "INTERNAL"
    return "GRAPHQL_VALIDATION_FAILED"


def record_operation(context: ExecutionContext, seconds: float) -> None:
    """An operation strawberry ran, `seconds` long, by its outcome (its errors as the
    caller sees them, masked)."""
    try:
        kind = context.operation_type
    except Exception:  # no document, or no operation in it: a request error
        kind = None
    if kind is OperationType.SUBSCRIPTION:
        return
    errors: list[GraphQLError] = list(context.pre_execution_errors or [])
    result = context.result
    if result is not None and not errors:
        errors = list(result.errors or [])
    executed = result is not None and result.data is not None
    type_label = kind.value if kind is not None else "unknown"
    _record(context.operation_name, type_label, errors, executed, seconds)


def operation_succeeded(name: str | None, type_label: str, seconds: float) -> None:
    """An operation answered without strawberry (`fast.checks`), recorded as it would be."""
    _observe(name, type_label, "success", seconds)


def operation_failed(
    name: str | None, type_label: str, errors: list[GraphQLError], seconds: float
) -> None:
    """An operation executed without strawberry whose field errors nulled its data
    (`fast.queries`), recorded as `record_operation` records such an operation: from its
    errors as execution raised them (strawberry keeps those in the execution context's
    `pre_execution_errors`; the masking replaces the result's)."""
    _record(name, type_label, errors, False, seconds)


def _record(
    name: str | None, type_label: str, errors: list[GraphQLError], executed: bool, seconds: float
) -> None:
    if not errors:
        outcome = "success"
    elif executed or any(e.path for e in errors):
        outcome = "error"
    else:
        outcome = "request_error"
    # By the code each was answered with: a lost database is UNAVAILABLE once masked, and
    # was INTERNAL as raised (execution hands these steps its errors before masking).
    for error in masked(errors):
        metrics.error(error_code(error))
    _observe(name, type_label, outcome, seconds)


def _observe(name: str | None, type_label: str, outcome: str, seconds: float) -> None:
    label = metrics.operation_label(name)
    metrics.child(metrics.GRAPHQL_OPERATION_SECONDS, label, type_label, outcome).observe(seconds)
