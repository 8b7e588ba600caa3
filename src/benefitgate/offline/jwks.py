"""GET /.well-known/jwks.json: the public keys entitlement snapshots verify with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from benefitgate.offline.keys import KeyRing

__all__ = ["MAX_AGE_SECONDS", "PATH", "endpoint"]

PATH = "/.well-known/jwks.json"

# Verifiers may keep the keys this long; after a rotation they fetch again on meeting an
# unknown `kid`, and the previous keys stay listed while snapshots they signed live.
MAX_AGE_SECONDS = 300


def endpoint(keys: KeyRing) -> Callable[[Request], Awaitable[Response]]:
    body = keys.jwks()

    async def jwks(request: Request) -> Response:
        return JSONResponse(
            body,
            headers={"cache-control": f"public, max-age={MAX_AGE_SECONDS}"},
            media_type="application/jwk-set+json",
        )

    return jwks
