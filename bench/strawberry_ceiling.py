"""The ceiling of the mandated stack: a bare Strawberry app answering the lean account
view's shape from constants in memory.

No database, no middleware, no authentication, no Benefitgate code: Strawberry's own ASGI
app (stock, with its parser and validation caches, which only make it faster) on the same
uvicorn, uvloop and HTTP protocol, one worker, as `benefitgate serve`. Every field is a plain
attribute. What it answers is built once at import from CEILING_SAMPLE_FILE, a lean view
response of Benefitgate (`{"account": {...}}`), so the body has the same facts and size;
the `id` asked for is echoed back. `postgraphile.py` measures it in the same run.

    CEILING_SAMPLE_FILE=sample.json uvicorn strawberry_ceiling:app --loop uvloop \\
        --http benefitgate.http_protocol:HttpProtocol --no-access-log
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


@strawberry.enum
class Status(Enum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


@strawberry.type
class Subscription:
    status: Status


@strawberry.type
class Benefit:
    key: str


@strawberry.type
class TierBenefit:
    benefit: Benefit


@strawberry.type
class Tier:
    key: str
    benefits: list[TierBenefit]


@strawberry.type
class Metric:
    key: str


@strawberry.type
class MetricUsage:
    metric: Metric
    used: float


@strawberry.type
class Account:
    id: strawberry.ID
    name: str
    subscription: Subscription | None
    tier: Tier | None
    usage: list[MetricUsage]


@strawberry.type
class NotFound:
    code: str


AccountResult = Annotated[Account | NotFound, strawberry.union("AccountResult")]


def _account(a: dict[str, Any]) -> Account:
    sub, tier = a["subscription"], a["tier"]
    return Account(
        id=strawberry.ID(a["id"]),
        name=a["name"],
        subscription=None if sub is None else Subscription(status=Status[sub["status"]]),
        tier=None
        if tier is None
        else Tier(
            key=tier["key"],
            benefits=[
                TierBenefit(benefit=Benefit(key=b["benefit"]["key"])) for b in tier["benefits"]
            ],
        ),
        usage=[
            MetricUsage(metric=Metric(key=u["metric"]["key"]), used=u["used"]) for u in a["usage"]
        ],
    )


with open(os.environ["CEILING_SAMPLE_FILE"], "rb") as sample:
    _ACCOUNT = _account(json.load(sample)["account"])


@strawberry.type
class Query:
    @strawberry.field
    def account(self, id: strawberry.ID) -> AccountResult:
        return replace(_ACCOUNT, id=id)  # type: ignore[type-var]


schema = strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])
app = GraphQL(schema)
