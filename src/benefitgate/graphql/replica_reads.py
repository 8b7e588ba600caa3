"""Queries read the read replica when it is fresh enough (`benefitgate.replica`); a mutation
leaves its change expected, so this process reads the primary until its listener has
looked past the change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from benefitgate.api.context import Context
from benefitgate.replica import ReadReplica

__all__ = ["replica_reads"]


@contextmanager
def replica_reads(execution: ExecutionContext) -> Iterator[None]:
    """Around an operation's execution."""
    context: Context = execution.context
    replica = context.shared.find(ReadReplica)
    kind = execution.operation_type
    if replica is not None and kind is OperationType.QUERY:
        context.db.read_from(replica)
    try:
        yield
    finally:
        if replica is not None and kind is OperationType.MUTATION:
            replica.expect_change()
