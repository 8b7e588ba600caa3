"""CORS for the configured origins: Starlette's middleware, whose refused preflight
answers in the service's JSON error shape.

Starlette answers a preflight it refuses with a plain-text 400 ("Disallowed CORS
origin"), the one refusal of the service that was not `{"errors": [{"message",
"extensions": {"code"}}]}`. What is allowed, and every header of either answer, stay
Starlette's: only the refused answer's body is replaced, with `CORS_REFUSED` and a message
that names what was refused (the origin, the method, a header, private network access).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from benefitgate.common.text import quoted
from benefitgate.graphql.responses import error_response

__all__ = ["CODE", "Cors"]

CODE = "CORS_REFUSED"
_BODY_HEADERS = frozenset({"content-length", "content-type"})  # the plain text's own


class Cors(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        headers = {k: v for k, v in answer.headers.items() if k not in _BODY_HEADERS}
        # Should a later Starlette refuse for a reason not named here, its text says which.
        reason = self._refused(request_headers) or bytes(answer.body).decode(errors="replace")
        return error_response(400, f"CORS preflight refused: {reason}", CODE, headers)

    def _refused(self, request: Headers) -> str:
        """What Starlette's checks refused in this preflight, found by the same checks."""
        refused = []
        origin = request["origin"]
        if not self.is_allowed_origin(origin):
            refused.append(f"origin {quoted(origin)} may not call this API")
        method = request["access-control-request-method"]
        if method not in self.allow_methods:
            allowed = ", ".join(self.allow_methods)
            refused.append(f"method {quoted(method)} is not allowed ({allowed} are)")
        asked = request.get("access-control-request-headers")
        if asked is not None and not self.allow_all_headers:
            outside = [h.strip() for h in asked.lower().split(",")]
            outside = [h for h in outside if h not in self.allow_headers]
            if outside:
                refused.append(f"header {quoted(outside[0])} is not allowed")
        if "access-control-request-private-network" in request and not self.allow_private_network:
            refused.append("private network access is not allowed")
        return "; ".join(refused)
