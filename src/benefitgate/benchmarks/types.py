"""GraphQL types of peer benchmarks."""

from __future__ import annotations

from datetime import date

import strawberry

from benefitgate.benchmarks import models
from benefitgate.catalog.types import CatalogTypes, Metric, Outcome

__all__ = ["AccountBenchmarks", "benchmarks_type"]


@strawberry.type
class MetricBenchmark:
    metric: Metric
    percentile: int | None = strawberry.field(
        description="The share of peers with less usage (a tie counts half), rounded down "
        "to a multiple of 10; null when fewer than 10 peers exist."
    )


@strawberry.type
class OutcomeBenchmark:
    outcome: Outcome
    percentile: int | None = strawberry.field(
        description="The share of peers the account does better than on the outcome's "
        "metric (lower is better for an outcome that should decrease), rounded down to a "
        "multiple of 10; null when fewer than 10 peers exist."
    )


@strawberry.type(
    description="Where the account stands among the accounts on its tier (its peers), "
    "anonymised: only percentiles, and only with at least 10 peers."
)
class AccountBenchmarks:
    month: date = strawberry.field(
        description="The first day of the calendar month compared: the last complete one."
    )
    metrics: list[MetricBenchmark]
    outcomes: list[OutcomeBenchmark] = strawberry.field(description="Outcomes a metric measures.")


def benchmarks_type(b: models.Benchmarks, types: CatalogTypes) -> AccountBenchmarks:
    return AccountBenchmarks(
        month=b.month_start,
        metrics=[
            MetricBenchmark(metric=types.metrics[m.key], percentile=m.percentile)
            for m in b.metrics
            if m.key in types.metrics
        ],
        outcomes=[
            OutcomeBenchmark(outcome=types.outcomes[o.key], percentile=o.percentile)
            for o in b.outcomes
            if o.key in types.outcomes
        ],
    )
