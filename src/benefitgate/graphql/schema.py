"""Schema assembly, with the validation and error-masking extensions built once."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Collection, Mapping
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON as JSON_TYPE
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from benefitgate.accounts.resolvers import AccountMutation
from benefitgate.api.errors import Error, ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.scalars import DATE, DATETIME, JSON
from benefitgate.audit.resolvers import AuditMutation, AuditQuery
from benefitgate.auth.principals import Role
from benefitgate.catalog.resolvers import CatalogMutation, CatalogPrimitiveMutation, CatalogQuery
from benefitgate.catalog.version_resolvers import TierVersionMutation, TierVersionQuery
from benefitgate.credits.resolvers import CreditMutation
from benefitgate.db import unavailable
from benefitgate.entitlements.resolvers import GrantMutation
from benefitgate.feed.live import LiveSubscription
from benefitgate.feed.polling import EventQuery
from benefitgate.glossary.resolvers import GlossaryMutation, GlossaryQuery
from benefitgate.graphql.cost import cost_rule
from benefitgate.graphql.document_limits import aliases_rule, depth_rule
from benefitgate.graphql.fast.executor import PlainFieldExecutor
from benefitgate.graphql.fast.render import LiveEventExecutor
from benefitgate.graphql.masking import is_unexpected, masked
from benefitgate.graphql.steps import Limits, OperationSteps
from benefitgate.graphql.unstorable import UnstorableLiterals
from benefitgate.impact.resolvers import ImpactMutation, ImpactQuery
from benefitgate.logs import request_id
from benefitgate.metering.resolvers import MeteringMutation, MeteringQuery
from benefitgate.milestones.resolvers import MilestoneMutation, MilestoneQuery
from benefitgate.offline.resolvers import OfflineQuery
from benefitgate.partners.resolvers import PartnerMutation
from benefitgate.renewals.resolvers import RenewalQuery
from benefitgate.reports.resolvers import ReportMutation, ReportQuery
from benefitgate.seats.resolvers import SeatMutation
from benefitgate.selfserve.resolvers import SelfServeMutation, SelfServeQuery
from benefitgate.subscriptions.resolvers import (
    SubscriptionLifecycleMutation,
    SubscriptionMutation,
    SubscriptionQuery,
)
from benefitgate.subscriptions.version_resolvers import VersionMigrationMutation
from benefitgate.suggestions.resolvers import SuggestionMutation, SuggestionQuery
from benefitgate.targets.resolvers import TargetMutation
from benefitgate.views.resolvers import AccountQuery
from benefitgate.views.risk import RiskQuery
from benefitgate.webhooks.resolvers import WebhookMutation, WebhookQuery
from graphql import GraphQLError

__all__ = ["GatewaySchema", "build_schema"]

log = logging.getLogger("benefitgate.graphql")


@strawberry.type
class Query(
    CatalogQuery,
    TierVersionQuery,
    AccountQuery,
    EventQuery,
    MeteringQuery,
    OfflineQuery,
    AuditQuery,
    SubscriptionQuery,
    MilestoneQuery,
    SuggestionQuery,
    ImpactQuery,
    RenewalQuery,
    ReportQuery,
    WebhookQuery,
    GlossaryQuery,
    SelfServeQuery,
    RiskQuery,
):
    pass


@strawberry.type
class Mutation(
    MeteringMutation,
    TargetMutation,
    GrantMutation,
    SeatMutation,
    SubscriptionMutation,
    AuditMutation,
    MilestoneMutation,
    CatalogMutation,
    TierVersionMutation,
    VersionMigrationMutation,
    SuggestionMutation,
    ImpactMutation,
    WebhookMutation,
    AccountMutation,
    PartnerMutation,
    SubscriptionLifecycleMutation,
    CatalogPrimitiveMutation,
    GlossaryMutation,
    SelfServeMutation,
    CreditMutation,
    ReportMutation,
):
    pass


# Named `Live`: `Subscription` is the license subscription type of the domain.
@strawberry.type(name="Live")
class Live(LiveSubscription):
    pass


def _over_websocket(error: GraphQLError) -> GraphQLError:
    """A query or mutation sent with `subscribe` as the client is told it, with a code:
    strawberry's "queries are not allowed" had none, and no word of where to send it."""
    refused = error.original_error
    if not isinstance(refused, InvalidOperationTypeError):
        return error
    if refused.operation_type is OperationType.QUERY:
        where = "queries are not served over WebSocket: send them over HTTP, with GET or POST"
    else:
        where = "mutations are not served over WebSocket: send them over HTTP, with POST"
    return GraphQLError(
        f"{where}, to this same URL (http:// or https://)",
        error.nodes,
        error.source,
        error.positions,
        extensions={"code": "BAD_REQUEST"},
    )


class GatewaySchema(strawberry.Schema):
    # What its steps enforce (`graphql.steps`) and its executor, for paths in front of it.
    limits: Limits
    executor: type[PlainFieldExecutor]

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        # Only WebSocket connections stream here (HTTP streaming is not offered), and they
        # carry subscriptions only: a query or mutation over a long-lived connection would
        # run with the connection's clock reading and loaders, so it goes over HTTP.
        kwargs.setdefault("allowed_operation_types", {OperationType.SUBSCRIPTION})
        return self._request_errors_first(await super().stream(*args, **kwargs))

    async def _request_errors_first(self, results: AsyncGenerator[Any, None]) -> Any:
        """The stream's results, with an error raised before the first one (a syntax error or
        the token limit, which strawberry's parser cache raises from its hook rather than
        returns) turned into the PreExecutionError result it is over HTTP. Raised, it ended
        the operation with a bare `complete` and no word of what was wrong."""
        async with aclosing(results):
            try:
                first = await anext(results)
            except StopAsyncIteration:
                return
            except Exception as exc:  # as `execute` does: any error before execution
                error = (
                    exc
                    if isinstance(exc, GraphQLError)
                    else GraphQLError(str(exc), original_error=exc)
                )
                self.process_errors([error])
                yield PreExecutionError(data=None, errors=masked([error]))
                return
            if isinstance(first, PreExecutionError) and first.errors:
                first.errors = [_over_websocket(error) for error in first.errors]
            yield first
            async for result in results:
                yield result

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        # A subscription executed once over HTTP would resolve to a stream it cannot send.
        allowed = kwargs.get("allowed_operation_types") or set(OperationType)
        kwargs["allowed_operation_types"] = set(allowed) - {OperationType.SUBSCRIPTION}
        result = await super().execute(*args, **kwargs)
        if isinstance(result, PreExecutionError) and result.errors:
            # An error a validation rule raised (rather than reported) ends here unmasked:
            # the masking step (`graphql.steps`) runs around execution, which never began.
            result.errors = masked(result.errors)
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Only unexpected errors are logged, once, by type and traceback, with the request
        # id; the log formatter redacts credentials from whatever text remains.
        for error in errors:
            if is_unexpected(error) and unavailable(error.original_error):
                log.warning(
                    "database unavailable in %s: %r",
                    ".".join(str(p) for p in error.path or []),
                    error.original_error,
                    extra={"request_id": request_id.get()},
                )
            elif is_unexpected(error):
                log.error(
                    "unexpected error in %s",
                    ".".join(str(p) for p in error.path or []),
                    exc_info=error.original_error,
                    extra={"request_id": request_id.get()},
                )


class _QuietExecutor(LiveEventExecutor):
    """Variable errors without "Did you mean ...?": schema names are for development."""

    hides_suggestions = True


def build_schema(
    *,
    max_depth: int,
    max_tokens: int,
    max_aliases: int,
    suggestions: bool,
    introspection: Collection[Role] = frozenset(Role),
    cost_ceilings: Mapping[str, int] | None = None,
) -> GatewaySchema:
    """The schema with its limits; only callers of the roles in `introspection` may
    query `__schema` and `__type`, and `cost_ceilings` maps a role to the largest
    operation cost its callers may send (missing or 0: no ceiling)."""
    # Rule classes are built once: a per-request factory would build new classes each time
    # and the validation cache, keyed by the rules, would never hit.
    rules = [
        depth_rule(max_depth),
        aliases_rule(max_aliases),
        UnstorableLiterals,
    ]
    cost_rules = {
        role: cost_rule(role, ceiling) for role, ceiling in (cost_ceilings or {}).items() if ceiling
    }
    limits = Limits(
        max_tokens=max_tokens,
        rules=rules,
        introspection=frozenset(introspection),
        cost_rules=cost_rules,
        hide_suggestions=not suggestions,
    )
    executor = LiveEventExecutor if suggestions else _QuietExecutor
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Live,
        types=[Error, NotFoundError, ForbiddenError, InvalidInputError],
        extensions=[lambda: OperationSteps(limits)],
        config=StrawberryConfig(disable_field_suggestions=not suggestions),
        execution_context_class=executor,
        scalar_overrides={datetime: DATETIME, date: DATE, JSON_TYPE: JSON},
    )
    schema.limits, schema.executor = limits, executor
    return schema
