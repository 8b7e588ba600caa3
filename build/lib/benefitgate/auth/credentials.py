"""Turns a request's credentials into a principal, with verified API keys cached in process.

A cached key is forgotten when its revocation event arrives from the outbox.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import asyncpg
from starlette.requests import Request

from benefitgate.auth import apikeys
from benefitgate.auth.principals import Principal, Role, Unauthenticated, decode_frontend_token
from benefitgate.clock import Clock

__all__ = ["Authenticator"]

_CACHE_SIZE = 10_000
_DEV_ADMIN = Principal(Role.ADMIN, subject="anonymous-dev-admin")


class Authenticator:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, jwt_secret: str, *, dev_mode: bool
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._jwt_secret = jwt_secret
        self._dev_mode = dev_mode
        self._keys: OrderedDict[bytes, Principal] = OrderedDict()

    async def __call__(self, request: Request) -> Principal:
        return await self.from_header(request.headers.get("authorization"))

    async def from_header(self, header: str | None) -> Principal:
        """The principal of an `Authorization` value (`Bearer <token or API key>`), from an
        HTTP request or a WebSocket `connection_init` payload, with the same rules."""
        if header is None:
            if self._dev_mode:
                return _DEV_ADMIN
            raise Unauthenticated("missing credentials")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("expected `Authorization: Bearer <token or API key>`")
        credential = credential.strip()
        if credential.startswith(apikeys.PREFIX):
            return await self._api_key(credential)
        return decode_frontend_token(self._jwt_secret, credential, self._clock.now())

    async def _api_key(self, raw: str) -> Principal:
        digest = hashlib.sha256(raw.encode()).digest()
        cached = self._keys.get(digest)
        if cached is not None:
            self._keys.move_to_end(digest)
            return cached
        async with self._pool.acquire() as conn:
            principal = await apikeys.authenticate(conn, raw)
        self._keys[digest] = principal
        if len(self._keys) > _CACHE_SIZE:
            self._keys.popitem(last=False)
        return principal

    def forget_keys(self) -> None:
        self._keys.clear()
