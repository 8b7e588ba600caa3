"""Turns a request's credentials into a principal, with verified credentials cached in
process: API keys until their revocation event arrives from the outbox, frontend tokens
until they expire.

Both are kept under their credential's SHA-256, never the credential itself, at most
10,000 of each, the least recently used dropped first. A token cannot be revoked and is
fixed by its bytes, so once its signature and claims are verified (which costs more than a
whole response cache hit: bench/README.md), what is left to check is its expiry against
the clock. A credential refused is checked again the next time, never kept.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import asyncpg
from starlette.requests import Request

from benefitgate.auth import apikeys
from benefitgate.auth.principals import Principal, Role, Unauthenticated, decode_frontend_token
from benefitgate.clock import Clock

__all__ = ["Authenticator", "VerifiedCredentials"]

_CACHE_SIZE = 10_000
_DEV_ADMIN = Principal(Role.ADMIN, subject="anonymous-dev-admin")


class VerifiedCredentials:
    """Principals by their credential's digest, the least recently used dropped past
    `size`."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._found: OrderedDict[bytes, Principal] = OrderedDict()
        self._size = size
        self.cleared = 0  # how many times `clear` ran: a check begun before one is stale

    def __len__(self) -> int:
        return len(self._found)

    def get(self, digest: bytes) -> Principal | None:
        found = self._found.get(digest)
        if found is not None:
            self._found.move_to_end(digest)
        return found

    def put(self, digest: bytes, principal: Principal) -> None:
        self._found[digest] = principal
        if len(self._found) > self._size:
            self._found.popitem(last=False)

    def drop(self, digest: bytes) -> None:
        self._found.pop(digest, None)

    def clear(self) -> None:
        self._found.clear()
        self.cleared += 1


class Authenticator:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, jwt_secret: str, *, dev_mode: bool
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._jwt_secret = jwt_secret
        self._dev_mode = dev_mode
        self.keys = VerifiedCredentials()
        self.tokens = VerifiedCredentials()

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
        return self._token(credential)

    async def _api_key(self, raw: str) -> Principal:
        digest = hashlib.sha256(raw.encode()).digest()
        cached = self.keys.get(digest)
        if cached is not None:
            return cached
        cleared = self.keys.cleared
        async with self._pool.acquire() as conn:
            principal = await apikeys.authenticate(conn, raw)
        # A revocation heard while the row was read may be this key's, read before it
        # committed: the request goes on as it began, but the key is not kept.
        if self.keys.cleared == cleared:
            self.keys.put(digest, principal)
        return principal

    def _token(self, token: str) -> Principal:
        """A frontend token's principal: verified once, then until its expiry by the
        clock (`decode_frontend_token`'s test: expired at its `exp` instant)."""
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock.now()
        cached = self.tokens.get(digest)
        if cached is None:
            principal = decode_frontend_token(self._jwt_secret, token, now)
            self.tokens.put(digest, principal)
            return principal
        assert cached.expires_at is not None  # a token without an expiry is refused
        if cached.expires_at <= now:
            self.tokens.drop(digest)
            raise Unauthenticated("token expired")
        return cached

    def forget_keys(self) -> None:
        """Drop the verified API keys, on a revocation's event (it names the key's id, not
        its digest), and any lookup under way from being kept. Tokens stay: nothing
        revokes one."""
        self.keys.clear()
