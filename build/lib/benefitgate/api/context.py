"""The per-request context: who is asking, the time of the request, and what the process
shares with every request.

The context knows no domain. Process-wide objects (the catalog cache, the usage partitions,
the live renderings) are found by their type in `shared`; per-request loaders are built on
first use by `loader(make)`. Domains bring their own of both, so this package imports none
of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias, TypeVar, cast

import asyncpg
import strawberry
from starlette.requests import Request

from benefitgate.auth.principals import Principal
from benefitgate.events.hub import Hub

__all__ = ["Context", "Info", "Shared"]

T = TypeVar("T")


class Shared:
    """The process-wide objects the app builds in its lifespan, each found by its type."""

    def __init__(self, *objects: object) -> None:
        self._by_type: dict[type, object] = {type(o): o for o in objects}

    def get(self, kind: type[T]) -> T:
        return cast(T, self._by_type[kind])


@dataclass
class Context:
    request: Request | None
    principal: Principal
    pool: asyncpg.Pool
    now: datetime  # one instant for the whole request, from the injected clock
    shared: Shared
    live: Hub | None = None  # this process's subscribers; WebSocket connections use it
    # The `connection_init` payload of a WebSocket connection; strawberry sets it.
    connection_params: dict[str, object] = field(default_factory=dict)
    _loaders: dict[object, object] = field(default_factory=dict, init=False, repr=False)

    def loader(self, make: Callable[[Context], T]) -> T:
        """This request's own `make(self)`, built on first use: a domain's DataLoaders live
        as long as the request and are shared by all its resolvers."""
        found = self._loaders.get(make)
        if found is None:
            found = self._loaders[make] = make(self)
        return cast(T, found)


Info: TypeAlias = strawberry.Info[Context, None]
