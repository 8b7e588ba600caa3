"""GraphiQL, served by the service itself: the page on `GET /graphql` from a browser and its
files under `/graphiql/`, shipped in the package (`static/`), so that it loads offline and
behind a network that reaches nothing else.

`static/graphiql/` is built by `scripts/build-graphiql` from the npm packages pinned in
`web/graphiql/`; `static/ide.js` starts it. The page's Content-Security-Policy allows
scripts, styles and connections to this origin only: a file that tried to load anything
from elsewhere would fail in the browser, not quietly work while online.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "assets", "page"]

ASSETS_PATH = "/graphiql"
_STATIC = Path(__file__).parent / "static"

_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # React and CodeMirror set inline styles
        "img-src 'self' data:",
        "font-src 'self' data:",  # GraphiQL's fonts are inlined in its stylesheet
        "connect-src 'self'",  # this origin's ws: and wss: too (CSP 3); not every host's
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
    ]
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Benefitgate GraphiQL</title>
<link rel="stylesheet" href="{assets}/graphiql/graphiql.min.css">
<link rel="stylesheet" href="{assets}/ide.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL...</div>
<script src="{assets}/graphiql/react.production.min.js"></script>
<script src="{assets}/graphiql/react-dom.production.min.js"></script>
<script src="{assets}/graphiql/graphiql.min.js"></script>
<script src="{assets}/ide.js" data-endpoint="{endpoint}"></script>
</body>
</html>
"""


def page(request: Request) -> HTMLResponse:
    """The GraphiQL page for the endpoint the request came to."""
    root = escape(request.scope.get("root_path", ""))
    html = _PAGE.format(assets=root + ASSETS_PATH, endpoint=escape(request.url.path))
    return HTMLResponse(html, headers={"content-security-policy": _CSP})


def assets() -> StaticFiles:
    """The page's files, for the app to mount at ASSETS_PATH."""
    return StaticFiles(directory=_STATIC)
