"""Rate limits per caller, in front of everything that answers a GraphQL request over HTTP
(cached answers included): a token bucket per caller, refusing with 429 when it is empty.

The caller is the authenticated principal: a frontend's account, a partner (all its keys
share one bucket), an internal tool's API key; a request without a usable credential is
keyed by its client address, with the `anonymous` quota. The principal found here is left
in the request's scope, so the view does not authenticate twice, and so is a credential's
refusal, which the view answers without checking it again. Every answer carries the IETF
RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11), the policy named
after the caller's role:

    RateLimit-Policy: "frontend";q=300;w=60
    RateLimit: "frontend";r=299;t=1
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Scope

from benefitgate.auth.principals import Principal, Role, Unauthenticated
from benefitgate.clock import Clock
from benefitgate.config import Quota
from benefitgate.graphql.responses import error_response
from benefitgate.graphql.view import PRINCIPAL, REFUSED
from benefitgate.limits.buckets import Decision
from benefitgate.limits.shared import Buckets

__all__ = ["RateLimiter", "RequestLimit", "caller_of", "refusal_message"]

log = logging.getLogger(__name__)

Identify = Callable[[str | None], Awaitable[Principal]]


def caller_of(principal: Principal | None, scope: Scope) -> tuple[str, str]:
    """The policy (a role, or `anonymous`) and the bucket key of a request's caller."""
    if principal is None:
        client = scope.get("client")
        return "anonymous", f"address:{client[0] if client else 'unknown'}"
    if principal.role is Role.FRONTEND:
        return principal.role.value, f"account:{principal.account_id}"
    if principal.role is Role.PARTNER:
        return principal.role.value, f"partner:{principal.partner_id}"
    return principal.role.value, principal.subject


def _headers(policy: str, decision: Decision) -> list[tuple[bytes, bytes]]:
    quota = decision.quota
    return [
        (b"ratelimit-policy", f'"{policy}";q={quota.requests};w={quota.seconds}'.encode()),
        (b"ratelimit", f'"{policy}";r={decision.remaining};t={decision.reset_seconds}'.encode()),
    ]


def refusal_message(decision: Decision) -> str:
    quota = decision.quota
    return (
        f"rate limit of {quota.requests} requests per {quota.seconds} s reached; "
        f"retry in {decision.retry_after} s"
    )


class RateLimiter:
    """The buckets and the quota of each policy: what the HTTP middleware and the
    WebSocket handler (one token per `subscribe`) take from."""

    def __init__(self, buckets: Buckets, quotas: Mapping[str, Quota | None], clock: Clock):
        self.buckets = buckets
        self.quotas = quotas
        self._clock = clock

    async def take(self, principal: Principal | None, scope: Scope) -> tuple[str, Decision] | None:
        """A token from the caller's bucket: the policy and the decision, or None when
        the caller's policy has no quota."""
        policy, key = caller_of(principal, scope)
        quota = self.quotas.get(policy)
        if quota is None:
            return None
        return policy, await self.buckets.take(key, quota, self._clock.now().timestamp())

    async def refuse_subscribe(self, principal: Principal) -> dict[str, object] | None:
        """A `subscribe` takes a token as a request does: the GraphQL error to answer it
        with when the caller's bucket is empty, else None."""
        taken = await self.take(principal, {})
        if taken is None or taken[1].allowed:
            return None
        decision = taken[1]
        return {
            "message": refusal_message(decision),
            "extensions": {"code": "RATE_LIMITED", "retryAfter": decision.retry_after},
        }

    async def refuse_bad_credential(self, scope: Scope) -> str | None:
        """A credential refused over WebSocket (at `connection_init`, or at a `subscribe`
        once revoked or expired) takes a token from its client address's bucket, as an
        HTTP request without a usable credential does: one bucket for both. The close
        reason when that bucket is empty (`RATE_LIMITED: ...`), else None."""
        taken = await self.take(None, scope)
        if taken is None or taken[1].allowed:
            return None
        return f"RATE_LIMITED: {refusal_message(taken[1])}"


class RequestLimit:
    """The rate limit of HTTP requests to `paths`: a token from the caller's bucket for
    each, taken by the edge (`graphql.edge`) before the request goes further."""

    def __init__(
        self,
        *,
        identify: Identify,
        limiter: RateLimiter,
        paths: frozenset[str] = frozenset({"/graphql"}),
    ) -> None:
        self._identify = identify
        self._limiter = limiter
        self._paths = paths

    async def __call__(
        self, scope: Scope, authorization: bytes | None
    ) -> tuple[ASGIApp | None, list[tuple[bytes, bytes]]]:
        """The 429 to answer with when the caller's bucket is empty (else None), and the
        RateLimit header fields every answer to the request carries (none when the request
        is not limited). `authorization` is the request's header, as the edge found it."""
        if scope["path"] not in self._paths or not self._limiter.quotas:
            return None, []
        taken = await self._limiter.take(await self._principal(scope, authorization), scope)
        if taken is None:
            return None, []
        policy, decision = taken
        headers = _headers(policy, decision)
        if not decision.allowed:
            return self._refuse(decision, headers), headers
        return None, headers

    async def _principal(self, scope: Scope, raw: bytes | None) -> Principal | None:
        """The request's principal, left in its scope for the view; None without a usable
        credential, or when it cannot be checked now (the view then answers for it)."""
        try:
            principal = await self._identify(None if raw is None else raw.decode("latin-1"))
        except Unauthenticated as refused:
            scope[REFUSED] = refused  # the view answers it, without checking again
            return None
        except Exception:  # the view meets the same failure and answers it typed
            log.debug("caller not identified for its rate limit", exc_info=True)
            return None
        scope[PRINCIPAL] = principal
        return principal

    @staticmethod
    def _refuse(decision: Decision, headers: list[tuple[bytes, bytes]]) -> ASGIApp:
        response = error_response(
            429,
            refusal_message(decision),
            "RATE_LIMITED",
            {"Retry-After": str(decision.retry_after)},
        )
        response.raw_headers.extend(headers)
        return response
