"""The portal's page on `GET /portal` and its files under `/portal/assets/`, shipped in the
package (`static/`): plain ES modules, the GraphQL documents they send as written, and
the vendored uPlot and graphql-ws (`static/vendor/`, built by `scripts/build-portal-vendor`
from the npm packages pinned in `web/portal/`). No CDN: the Content-Security-Policy lets
the page load and connect to this origin only.

The frontend token comes in the address's fragment (`/portal#token=...`), which browsers
never send to a server, so it stays out of access logs; the page keeps it in session
storage and drops it from the address bar. The page carries the service's date (from its
clock), so the charts' range is the service's, whatever the browser's clock says.
"""

from __future__ import annotations

from datetime import UTC
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from benefitgate.clock import Clock

__all__ = ["ASSETS_PATH", "PATH", "Page", "assets"]

PATH = "/portal"
ASSETS_PATH = "/portal/assets"
_STATIC = Path(__file__).parent / "static"

_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # this origin's ws: and wss: too (CSP 3); not every host's
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)

_HTML = (_STATIC / "portal.html").read_text()


class Page:
    """The portal page, dated by the service's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def serve(self, request: Request) -> HTMLResponse:
        root = escape(request.scope.get("root_path", ""))
        html = _HTML.format(
            assets=root + ASSETS_PATH,
            endpoint=root + "/graphql",
            today=self.clock.now().astimezone(UTC).date().isoformat(),
        )
        headers = {
            "content-security-policy": _CSP,
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
        }
        return HTMLResponse(html, headers=headers)


def assets() -> StaticFiles:
    """The page's files, for the app to mount at ASSETS_PATH."""
    return StaticFiles(directory=_STATIC)
