"""The per-request context: who is asking, the time of the request, and the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import strawberry
from starlette.requests import Request

from benefitgate.auth.principals import Principal
from benefitgate.catalog.cache import CatalogCache
from benefitgate.catalog.models import Catalog
from benefitgate.events.hub import Hub
from benefitgate.metering.partitions import Partitions
from benefitgate.views.loaders import Loaders

if TYPE_CHECKING:  # render imports feed, which imports this module
    from benefitgate.graphql.fast.render import RenderCache

__all__ = ["Context", "Info"]


@dataclass
class Context:
    request: Request | None
    principal: Principal
    pool: asyncpg.Pool
    catalog_cache: CatalogCache
    now: datetime  # one instant for the whole request, from the injected clock
    partitions: Partitions
    live: Hub | None = None  # this process's subscribers; WebSocket connections use it
    renders: RenderCache | None = None  # live events rendered once per document
    # The `connection_init` payload of a WebSocket connection; strawberry sets it.
    connection_params: dict[str, object] = field(default_factory=dict)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.pool, self.catalog_cache, self.now)

    async def catalog(self) -> Catalog:
        return await self.catalog_cache.get()


Info: TypeAlias = strawberry.Info[Context, None]
